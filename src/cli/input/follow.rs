//! `jcdetect --follow FILE`: read a file like `tail -F` and feed it to the engine.
//!
//! - Starts at the beginning of FILE (`--follow-from-end`: at its end, skipping a partial last
//!   line), reads in 1 MiB chunks until the end of the data, flushes the alerts, then polls
//!   every [`POLL`].
//! - **Rotation** (FILE renamed away and a new file created at the path): noticed when the path
//!   names another file (device + inode) than the one open. The old file is first read to its
//!   end once more, so lines written just before the rename are not lost, and a final line
//!   without a newline is processed then; the new file is read from its start. While nothing
//!   exists at the path, the old file is kept open and read.
//! - **Truncation** (copytruncate): the open file is shorter than the position read; the rest
//!   of a partial line is processed as a line, and reading starts again at offset 0. As with
//!   `tail -F`, a truncation followed by more writes than had been read before the next poll
//!   cannot be told from growth.
//! - A partial line at the end of the data is held (the writer may be in the middle of it)
//!   until its newline arrives.
//! - Runs until SIGTERM/SIGINT (checked after every chunk and every poll) or until stdout is
//!   closed. With `--state`, the position (file identity and the offset of the first line not
//!   finished) is saved with the window state, and the next run resumes there, so a restart
//!   neither reads lines twice nor skips what was written while it was down.

use super::now_nanos;
use crate::output::Sink;
use crate::report::Reporter;
use crate::shutdown::StopFlag;
use jcdetect::{Diagnostic, Engine};
use std::fs::{self, File};
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// How often the file is checked for growth, rotation and truncation when idle.
const POLL: Duration = Duration::from_millis(200);

/// Read size.
const CHUNK: usize = 1 << 20;

pub struct Follower {
    path: PathBuf,
    name: String,
    file: File,
    /// (device, inode) of the open file; `None` where the platform has no such notion.
    id: Option<(u64, u64)>,
    /// Bytes read from the open file.
    pos: u64,
    /// `--follow-from-end` started inside a line: drop bytes up to its newline.
    skip_partial: bool,
}

#[cfg(unix)]
fn identity(m: &fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(_: &fs::Metadata) -> Option<(u64, u64)> {
    None
}

/// Where a restart resumes, saved with the window state (`--state`) as
/// `{"follow": {"dev", "ino", "offset", "path", "skip_partial"}}`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Position {
    /// Device and inode of the file read.
    dev: u64,
    ino: u64,
    /// The start of the first line not finished.
    offset: u64,
    /// The path as given (for a person reading the file; the identity decides).
    #[serde(default)]
    path: String,
    /// Still inside the partial line `--follow-from-end` skips.
    #[serde(default)]
    skip_partial: bool,
}

/// What one pass over the available data ended with.
enum Pass {
    /// Read this many bytes, then reached the end of the data.
    Eof(u64),
    /// Stop the run with this status (stdout closed, write or read error).
    Stop(ExitCode),
}

impl Follower {
    pub fn open(path: &Path, from_end: bool) -> Result<Follower, String> {
        let name = path.display().to_string();
        let mut file = File::open(path).map_err(|e| format!("cannot open {name}: {e}"))?;
        let meta = file
            .metadata()
            .map_err(|e| format!("cannot stat {name}: {e}"))?;
        if meta.is_dir() {
            return Err(format!("cannot follow {name}: it is a directory"));
        }
        let (mut pos, mut skip_partial) = (0, false);
        if from_end && meta.len() > 0 {
            // Start after the last complete line.
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(meta.len() - 1))
                .and_then(|_| file.read_exact(&mut last))
                .map_err(|e| format!("cannot read {name}: {e}"))?;
            pos = meta.len();
            skip_partial = last[0] != b'\n';
        }
        Ok(Follower {
            path: path.to_path_buf(),
            name,
            id: identity(&meta),
            file,
            pos,
            skip_partial,
        })
    }

    /// Resume at a position saved by [`Follower::position`] when it names the same file
    /// and the file still reaches it; otherwise say why and keep the start chosen by `open`.
    pub fn resume(&mut self, saved: &Position) {
        let Position {
            dev, ino, offset, ..
        } = *saved;
        let len = self.file.metadata().map(|m| m.len()).unwrap_or(0);
        // The file's identity decides, not the path's spelling (`./f.log`, another cwd).
        if self.id != Some((dev, ino)) {
            tracing::warn!(
                "{}: not the file the state was saved with (rotated or replaced meanwhile); \
                 reading it as without a saved position",
                self.name
            );
        } else if len < offset {
            tracing::warn!(
                "{}: shorter than the saved position (truncated meanwhile); reading it as \
                 without a saved position",
                self.name
            );
        } else if self.file.seek(SeekFrom::Start(offset)).is_ok() {
            self.pos = offset;
            // Still inside the partial line `--follow-from-end` chose to skip.
            self.skip_partial = saved.skip_partial;
            tracing::info!("{}: resuming at byte {offset}", self.name);
        }
    }

    /// Where a restart should resume: the start of the first line not finished.
    pub fn position(&self, engine: &Engine) -> Position {
        let (dev, ino) = self.id.unwrap_or((0, 0));
        Position {
            dev,
            ino,
            offset: self.pos.saturating_sub(engine.pending_bytes() as u64),
            path: self.name.clone(),
            skip_partial: self.skip_partial,
        }
    }

    /// Follow until stopped. With `keep_partial` (a position will be saved) a line the writer
    /// has not finished is left for the next run to read whole; without, it is processed
    /// as at the end of input (reported if cut short).
    pub fn run(
        &mut self,
        engine: &mut Engine,
        sink: &mut Sink,
        rep: &mut Reporter,
        stop: &StopFlag,
        keep_partial: bool,
    ) -> ExitCode {
        let mut diags = Vec::new();
        let chunk = &mut vec![0u8; CHUNK][..];
        engine.start_input();
        loop {
            stop.reload_if_asked(engine);
            if stop.is_set() {
                if !keep_partial {
                    engine.finish(&mut sink.buf, &mut diags);
                    rep.report(&self.name, &mut diags);
                }
                tracing::info!("stopped by a signal; alerts flushed");
                return sink.flush_or_end().unwrap_or(ExitCode::SUCCESS);
            }
            let got = match self.drain(engine, sink, rep, chunk, &mut diags, stop) {
                Pass::Eof(n) => n,
                Pass::Stop(code) => return code,
            };
            if let Some(code) = sink.flush_or_end() {
                return code;
            }
            if stop.is_set() {
                // Stopped inside a backlog: not the moment to act on a rotation.
                continue;
            }
            // Rotation: the path now names another file.
            if let Ok(meta) = fs::metadata(&self.path) {
                if identity(&meta) != self.id {
                    // Lines written to the old file before it was renamed come first.
                    if let Pass::Stop(code) = self.drain(engine, sink, rep, chunk, &mut diags, stop)
                    {
                        return code;
                    }
                    match File::open(&self.path) {
                        Ok(file) => {
                            engine.finish(&mut sink.buf, &mut diags);
                            rep.report(&self.name, &mut diags);
                            if let Some(code) = sink.flush_or_end() {
                                return code;
                            }
                            self.id = file.metadata().ok().and_then(|m| identity(&m));
                            self.file = file;
                            self.pos = 0;
                            self.skip_partial = false;
                            engine.start_input();
                            tracing::info!("{}: rotated, reading the new file", self.name);
                            continue;
                        }
                        // Replaced again in between, or not readable yet: retry at the next poll.
                        Err(e) => tracing::debug!("{}: reopen failed: {e}", self.name),
                    }
                }
            }
            // Truncation: the open file is now shorter than what was read.
            if let Ok(meta) = self.file.metadata() {
                if meta.len() < self.pos {
                    engine.finish(&mut sink.buf, &mut diags);
                    rep.report(&self.name, &mut diags);
                    if let Some(code) = sink.flush_or_end() {
                        return code;
                    }
                    if let Err(e) = self.file.seek(SeekFrom::Start(0)) {
                        tracing::error!("{}: cannot seek after truncation: {e}", self.name);
                        return ExitCode::from(1);
                    }
                    self.pos = 0;
                    self.skip_partial = false;
                    engine.start_input();
                    tracing::info!("{}: truncated, reading from the start", self.name);
                    continue;
                }
            }
            if got == 0 {
                std::thread::sleep(POLL);
            }
        }
    }

    /// Read and process everything available now.
    fn drain(
        &mut self,
        engine: &mut Engine,
        sink: &mut Sink,
        rep: &mut Reporter,
        chunk: &mut [u8],
        diags: &mut Vec<Diagnostic>,
        stop: &StopFlag,
    ) -> Pass {
        let mut total = 0;
        loop {
            // A backlog is not read to its end once a stop is asked for.
            if stop.is_set() {
                return Pass::Eof(total);
            }
            let n = match self.file.read(chunk) {
                Ok(0) => return Pass::Eof(total),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::error!("{}: read error: {e}", self.name);
                    return Pass::Stop(ExitCode::from(1));
                }
            };
            self.pos += n as u64;
            total += n as u64;
            let mut data = &chunk[..n];
            if self.skip_partial {
                match memchr::memchr(b'\n', data) {
                    Some(i) => {
                        data = &data[i + 1..];
                        self.skip_partial = false;
                    }
                    None => continue,
                }
            }
            engine.set_fallback_time(now_nanos());
            engine.feed(data, &mut sink.buf, diags);
            rep.report(&self.name, diags);
            if let Some(code) = sink.flush_if_full() {
                return Pass::Stop(code);
            }
        }
    }
}
