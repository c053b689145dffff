//! The window-state file format: a versioned, checksummed container, and the little-endian
//! field codec the tables use to write themselves (`src/windows/codec.rs`).
//!
//! ```text
//! "JCDSTATE"  magic, 8 bytes
//! u32         format version (FORMAT_VERSION)
//! u64         payload length
//! u64         payload checksum (hash64)
//! payload     watermark, then each table's shape and occupied keys, then the recent-success log,
//!             then (only with Sigma correlations) each correlation's id, fingerprint and table;
//!             a file without that last part is read as one with no correlations, so state
//!             written before Sigma rules existed still loads
//! ```
//!
//! Pure: bytes in, bytes out. The CLI writes the file atomically (temp file, fsync, rename).
//! Every read is bounds-checked: a corrupt, truncated or foreign file is an error, never a
//! panic and never a half-loaded state.

use crate::hash::hash64;
use std::fmt;

/// The first bytes of every state file.
pub const MAGIC: &[u8; 8] = b"JCDSTATE";
/// Bump when the payload layout, the key derivation or `hash64` changes: stored keys are
/// hash fingerprints, so a file from another version cannot be read as this one's.
pub const FORMAT_VERSION: u32 = 3;
const HEADER: usize = 8 + 4 + 8 + 8;
const CHECKSUM_SEED: u64 = 0x6a63_6473_7461_7465;

/// Why a state file was not loaded. The run then starts with empty state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    /// Not a jcdetect state file (wrong magic).
    NotAStateFile,
    /// Written by another format version.
    Version { found: u32, expected: u32 },
    /// Shorter than its header says.
    Truncated { have: usize, want: usize },
    /// The payload does not match its checksum.
    Checksum,
    /// The tables were sized by a different configuration.
    Incompatible(String),
    /// Well-formed container, impossible contents.
    Malformed(String),
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::NotAStateFile => write!(f, "not a jcdetect state file"),
            StateError::Version { found, expected } => write!(
                f,
                "state format version {found}, this build reads version {expected}"
            ),
            StateError::Truncated { have, want } => {
                write!(f, "truncated: {have} bytes, the header says {want}")
            }
            StateError::Checksum => write!(f, "checksum mismatch (the file is corrupt)"),
            StateError::Incompatible(why) => {
                write!(f, "written with a different configuration: {why}")
            }
            StateError::Malformed(why) => write!(f, "malformed: {why}"),
        }
    }
}

impl StateError {
    /// A short machine-readable class, for hosts that report refusals as data (the WASM
    /// module's JSON status, the JS `Error`): `not_a_state_file`, `incompatible` or `damaged`.
    pub fn kind(&self) -> &'static str {
        match self {
            StateError::NotAStateFile => "not_a_state_file",
            StateError::Incompatible(_) => "incompatible",
            _ => "damaged",
        }
    }
}

impl std::error::Error for StateError {}

/// Wrap a payload in the container.
pub fn seal(payload: &[u8]) -> Vec<u8> {
    let mut w = Writer::for_state();
    w.bytes(payload);
    w.seal()
}

/// Check the container and return its payload.
pub fn open(file: &[u8]) -> Result<&[u8], StateError> {
    if file.len() < MAGIC.len() || &file[..MAGIC.len()] != MAGIC {
        return Err(StateError::NotAStateFile);
    }
    if file.len() < HEADER {
        return Err(StateError::Truncated {
            have: file.len(),
            want: HEADER,
        });
    }
    let mut r = Reader::new(&file[MAGIC.len()..HEADER]);
    let version = r.u32()?;
    if version != FORMAT_VERSION {
        return Err(StateError::Version {
            found: version,
            expected: FORMAT_VERSION,
        });
    }
    let len = r.u64()?;
    let sum = r.u64()?;
    let want = (HEADER as u64).saturating_add(len);
    if (file.len() as u64) < want {
        return Err(StateError::Truncated {
            have: file.len(),
            want: usize::try_from(want).unwrap_or(usize::MAX),
        });
    }
    if (file.len() as u64) > want {
        return Err(StateError::Malformed(format!(
            "{} bytes after the payload",
            file.len() as u64 - want
        )));
    }
    let payload = &file[HEADER..];
    if hash64(payload, CHECKSUM_SEED) != sum {
        return Err(StateError::Checksum);
    }
    Ok(payload)
}

/// Little-endian field writer.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    /// A writer for a state payload, with room for the container header in front, so
    /// sealing does not copy the (possibly tens of MB) payload.
    pub fn for_state() -> Writer {
        Writer {
            buf: vec![0; HEADER],
        }
    }

    /// Fill in the header of a [`Writer::for_state`] writer: the state file's bytes.
    pub fn seal(mut self) -> Vec<u8> {
        let payload = &self.buf[HEADER..];
        let len = (payload.len() as u64).to_le_bytes();
        let sum = hash64(payload, CHECKSUM_SEED).to_le_bytes();
        self.buf[..8].copy_from_slice(MAGIC);
        self.buf[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        self.buf[12..20].copy_from_slice(&len);
        self.buf[20..28].copy_from_slice(&sum);
        self.buf
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn f64(&mut self, v: f64) {
        self.u64(v.to_bits());
    }
    pub fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }
    pub fn str(&mut self, v: &str) {
        self.u32(v.len() as u32);
        self.bytes(v.as_bytes());
    }
}

/// Bounds-checked little-endian field reader: running off the end is `Malformed`.
pub struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data, at: 0 }
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], StateError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| StateError::Malformed(format!("ends inside a field at {}", self.at)))?;
        let s = &self.data[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], StateError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    pub fn u8(&mut self) -> Result<u8, StateError> {
        Ok(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> Result<u32, StateError> {
        self.array().map(u32::from_le_bytes)
    }
    pub fn u64(&mut self) -> Result<u64, StateError> {
        self.array().map(u64::from_le_bytes)
    }
    pub fn i64(&mut self) -> Result<i64, StateError> {
        self.array().map(i64::from_le_bytes)
    }
    pub fn f64(&mut self) -> Result<f64, StateError> {
        self.u64().map(f64::from_bits)
    }
    pub fn str(&mut self) -> Result<&'a str, StateError> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.take(n)?)
            .map_err(|_| StateError::Malformed("a name is not UTF-8".into()))
    }
    pub fn bool(&mut self) -> Result<bool, StateError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(StateError::Malformed(format!("{b} is not a boolean"))),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.at == self.data.len()
    }
    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_round_trips_and_rejects_damage() {
        let sealed = seal(b"payload bytes");
        assert_eq!(open(&sealed), Ok(&b"payload bytes"[..]));
        assert_eq!(
            open(b"hello world, not state"),
            Err(StateError::NotAStateFile)
        );
        assert!(matches!(
            open(&sealed[..sealed.len() - 1]),
            Err(StateError::Truncated { .. })
        ));
        assert!(matches!(
            open(&sealed[..10]),
            Err(StateError::Truncated { .. })
        ));
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(open(&flipped), Err(StateError::Checksum));
        let mut newer = sealed.clone();
        newer[8] = 9;
        assert!(matches!(
            open(&newer),
            Err(StateError::Version { found: 9, .. })
        ));
        let mut longer = sealed;
        longer.push(0);
        assert!(matches!(open(&longer), Err(StateError::Malformed(_))));
    }

    #[test]
    fn reader_never_reads_past_the_end() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert!(r.u64().is_err());
        assert_eq!(r.u8(), Ok(1));
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff]);
        assert!(r.str().is_err());
    }
}
