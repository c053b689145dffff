//! Where the filter's input comes from, each feeding chunks or lines to the one engine and
//! flushing the output whenever it has no more data ready:
//! - [`files`]: FILEs and stdin, in turn, read on a thread of their own;
//! - [`follow`]: `--follow FILE`, a file read as it grows, across rotation and truncation;
//! - [`listen`]: `--listen ADDR`, TCP connections, each framed into lines by its own thread;
//! - [`pull`]: `--pull` (and `jcdetect pull`), the Directory Insights API, page by page.

pub mod files;
pub mod follow;
pub mod listen;
pub mod pull;

/// The wall clock in ns: the time for alerts when no event carried one yet (the library never
/// reads a clock, the CLI hands it its reading time).
pub fn now_nanos() -> Option<i64> {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    i64::try_from(d.as_nanos()).ok()
}
