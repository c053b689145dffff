//! `--errors FILE`: the dead-letter queue. Every rejected line (a diagnostic whose code
//! [`jcdetect::Code::rejects_line`]) is appended to FILE, in input order, one record a line:
//!
//! ```text
//! SOURCE <TAB> LINE <TAB> CODE <TAB> REASON <TAB> RAW-BYTES <LF>
//! ```
//!
//! - SOURCE is the input name (`<stdin>`, the file name, `tcp#N PEER` for `--listen`), LINE
//!   its 1-based line number, CODE the diagnostic code, REASON its detail; tabs, CR and LF in
//!   SOURCE and REASON are replaced by spaces, so the first four fields never hold a tab.
//! - RAW-BYTES is the line exactly as read, byte for byte (invalid UTF-8, NUL, tabs, a BOM,
//!   the CR of a CRLF line all kept), without its LF: it cannot contain one, input lines are
//!   split on it. So the record is the last field, `cut -f5-` gives the lines back, and they
//!   can be fed to jcdetect again. An array element that is not an object is that element's
//!   text. A `line_too_long` line is never buffered whole: RAW-BYTES is its first 64 KiB
//!   ([`jcdetect::engine::REJECTED_PREFIX_BYTES`]) and REASON then ends with
//!   `; truncated: only the first N of M bytes are saved`.
//!
//! Records are buffered and written when the buffer is large, whenever the CLI flushes its
//! output (the same moments, so `--follow`/`--listen` keep FILE as current as stdout), and at
//! the end. A write error is reported once; later records are dropped (counted in the
//! summary as usual) and the run ends with exit status 1.
//!
//! The handle is shared by the [`crate::report::Reporter`] (which records) and the
//! [`crate::output::Sink`] (which flushes): both live on the thread that runs the engine.

use jcdetect::Diagnostic;
use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::rc::Rc;

/// Buffered bytes that trigger a write.
const WRITE_AT: usize = 256 << 10;

#[derive(Clone)]
pub struct DeadLetter(Rc<RefCell<Inner>>);

struct Inner {
    path: String,
    file: File,
    buf: Vec<u8>,
    /// Source and line of the first record in `buf`: where the loss begins if it fails.
    first: Option<(String, u64)>,
    failed: bool,
}

impl DeadLetter {
    /// Open FILE for appending (created if missing).
    pub fn open(path: &Path) -> Result<DeadLetter, String> {
        let shown = path.display();
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| format!("cannot open --errors {shown}: {e}"))?;
        Ok(DeadLetter(Rc::new(RefCell::new(Inner {
            path: shown.to_string(),
            file,
            buf: Vec::with_capacity(WRITE_AT + (64 << 10)),
            first: None,
            failed: false,
        }))))
    }

    /// Append the record of `d`, if it rejects its line.
    pub fn record(&self, source: &str, d: &Diagnostic) {
        if !d.code.rejects_line() {
            return;
        }
        let mut inner = self.0.borrow_mut();
        if inner.failed {
            return;
        }
        if inner.first.is_none() {
            inner.first = Some((source.to_string(), d.line));
        }
        let buf = &mut inner.buf;
        push_field(buf, source);
        buf.push(b'\t');
        buf.extend_from_slice(d.line.to_string().as_bytes());
        buf.push(b'\t');
        buf.extend_from_slice(d.code.as_str().as_bytes());
        buf.push(b'\t');
        push_field(buf, &d.detail);
        match &d.raw {
            Some(raw) if raw.truncated() => push_field(
                buf,
                &format!(
                    "; truncated: only the first {} of {} bytes are saved",
                    raw.bytes.len(),
                    raw.len
                ),
            ),
            Some(_) => {}
            // Cannot happen with the native engine (asked with `keep_rejected`); say so
            // rather than write an empty line as if it were the input.
            None => push_field(buf, "; the line's bytes are not available"),
        }
        buf.push(b'\t');
        if let Some(raw) = &d.raw {
            buf.extend_from_slice(&raw.bytes);
        }
        buf.push(b'\n');
        if inner.buf.len() >= WRITE_AT {
            inner.write();
        }
    }

    /// Write what is buffered (reporting a failure once).
    pub fn flush(&self) {
        self.0.borrow_mut().write();
    }

    /// Whether a write failed (the run must end with status 1).
    pub fn failed(&self) -> bool {
        self.0.borrow().failed
    }
}

impl Inner {
    fn write(&mut self) {
        if self.failed || self.buf.is_empty() {
            self.buf.clear();
            self.first = None;
            return;
        }
        if let Err(e) = self
            .file
            .write_all(&self.buf)
            .and_then(|_| self.file.flush())
        {
            let (source, line) = self.first.take().unwrap_or_default();
            tracing::error!(
                "cannot write --errors {}: {e}; rejected lines from line {line} of {source} on \
                 are not saved",
                self.path
            );
            self.failed = true;
        }
        self.buf.clear();
        self.first = None;
    }
}

impl Drop for Inner {
    /// An early exit (e.g. stdout failing) still saves what was recorded.
    fn drop(&mut self) {
        self.write();
    }
}

/// `text` with tabs, CR and LF as spaces (the record's field separators stay unambiguous).
fn push_field(buf: &mut Vec<u8>, text: &str) {
    buf.extend(text.bytes().map(|b| match b {
        b'\t' | b'\r' | b'\n' => b' ',
        b => b,
    }));
}
