//! The output side: the engine appends to [`Sink::buf`]; the input loops flush it when it is
//! large and whenever their input has no more data ready, so a downstream collector sees
//! alerts at once. A closed pipe ends the run quietly (exit 0).

use crate::dead_letter::DeadLetter;
use std::io::{self, ErrorKind, Write};
use std::process::ExitCode;

/// Flush when this much output is buffered, even while input keeps coming.
pub const FLUSH_AT: usize = 256 << 10;

/// Standard output, block-buffered.
pub struct Sink {
    out: io::StdoutLock<'static>,
    /// What the engine wrote and was not flushed yet.
    pub buf: Vec<u8>,
    /// A write failed (the pipe closed, a full disk): what was left undelivered is lost.
    pub broken: bool,
    /// `--errors FILE`, written whenever the output is.
    errors: Option<DeadLetter>,
}

/// Why output stopped.
pub enum Stop {
    /// Downstream closed the pipe: stop quietly.
    BrokenPipe,
    Io(io::Error),
}

impl Sink {
    pub fn new(errors: Option<DeadLetter>) -> Sink {
        Sink {
            out: io::stdout().lock(),
            buf: Vec::with_capacity(FLUSH_AT * 2),
            broken: false,
            errors,
        }
    }

    pub fn flush(&mut self) -> Result<(), Stop> {
        if let Some(e) = &self.errors {
            e.flush();
        }
        if !self.buf.is_empty() {
            let r = self.out.write_all(&self.buf).and_then(|_| self.out.flush());
            self.buf.clear();
            r.map_err(|e| {
                // Whatever the error, alerts were lost: the state must not remember them.
                self.broken = true;
                if e.kind() == ErrorKind::BrokenPipe {
                    Stop::BrokenPipe
                } else {
                    Stop::Io(e)
                }
            })?;
        }
        Ok(())
    }

    /// [`Sink::flush`]; when the run must end, the status it ends with: 0 for a closed pipe,
    /// 1 for another write error (reported here).
    pub fn flush_or_end(&mut self) -> Option<ExitCode> {
        match self.flush() {
            Ok(()) => None,
            Err(Stop::BrokenPipe) => Some(ExitCode::SUCCESS),
            Err(Stop::Io(e)) => {
                tracing::error!("writing output: {e}");
                Some(ExitCode::from(1))
            }
        }
    }

    /// [`Sink::flush_or_end`] when the buffer holds [`FLUSH_AT`] bytes or more.
    pub fn flush_if_full(&mut self) -> Option<ExitCode> {
        if self.buf.len() >= FLUSH_AT {
            self.flush_or_end()
        } else {
            None
        }
    }
}

/// Write `text` to stdout at once (help, `rules`, a report); a closed pipe is a normal end
/// (`print!` would panic on it).
pub fn write_stdout(text: &[u8]) -> ExitCode {
    let mut out = io::stdout().lock();
    match out.write_all(text).and_then(|_| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jcdetect: writing output: {e}");
            ExitCode::from(1)
        }
    }
}
