//! The filter's input side for FILEs and stdin: one thread reads the inputs in turn into
//! 1 MiB chunks and hands them to the engine thread through a short queue. Reading on its
//! own thread lets a SIGTERM be noticed while stdin is idle (a blocked `read` is never
//! interrupted: the signal handlers restart it), and overlaps reading with detection.

use crate::shutdown::StopFlag;
use std::io::{ErrorKind, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

pub(crate) const CHUNK: usize = 1 << 20;

pub(crate) enum Msg {
    /// Bytes of input `input`; `short` when the read returned less than asked (the input had
    /// nothing more ready, so alerts should go downstream now).
    Data {
        input: usize,
        /// The bytes are `buf[..len]`. The buffer keeps its full size, so reusing it for the
        /// next read costs nothing: truncating it to `len` would make that read re-zero up
        /// to 1 MiB, which a pipe writer sending a few events at a time turns into most of
        /// the CPU time (a `resize` per small read).
        buf: Vec<u8>,
        len: usize,
        short: bool,
    },
    /// End of input `input`, with the read error that ended it, if any.
    End {
        input: usize,
        error: Option<std::io::Error>,
    },
    /// A stop was asked for and honoured: every byte read has been sent, and the last chunk
    /// ends a line (unless `max_line_bytes` more bytes brought no newline).
    Stopped,
}

/// Start reading. Chunks go back through the returned sender to be reused.
pub(crate) fn spawn(
    inputs: Vec<Box<dyn Read + Send>>,
    stop: StopFlag,
    max_line_bytes: usize,
) -> std::io::Result<(Receiver<Msg>, SyncSender<Vec<u8>>)> {
    let (tx, rx) = sync_channel::<Msg>(2);
    let (back_tx, back_rx) = sync_channel::<Vec<u8>>(4);
    std::thread::Builder::new()
        .name("read".into())
        .spawn(move || {
            for (input, mut r) in inputs.into_iter().enumerate() {
                // Whether everything sent so far of this input ends with a newline.
                let mut at_line_end = true;
                loop {
                    if stop.is_set() {
                        // Stop at a line boundary: what is read is not lost, and a line half
                        // read is completed byte by byte, never reading past its newline
                        // (the rest stays in the pipe for whoever reads it next).
                        if !at_line_end {
                            for msg in finish_line(&mut *r, input, max_line_bytes) {
                                if tx.send(msg).is_err() {
                                    return;
                                }
                            }
                        }
                        let _ = tx.send(Msg::Stopped);
                        return;
                    }
                    let mut buf = back_rx.try_recv().unwrap_or_default();
                    if buf.len() != CHUNK {
                        buf.resize(CHUNK, 0);
                    }
                    let msg = match r.read(&mut buf) {
                        Ok(0) => Msg::End { input, error: None },
                        Ok(n) => {
                            at_line_end = buf[n - 1] == b'\n';
                            Msg::Data {
                                input,
                                buf,
                                len: n,
                                short: n < CHUNK,
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(e) => Msg::End {
                            input,
                            error: Some(e),
                        },
                    };
                    let end = matches!(msg, Msg::End { .. });
                    if tx.send(msg).is_err() {
                        return; // the engine side is gone
                    }
                    if end {
                        break;
                    }
                }
            }
        })?;
    Ok((rx, back_tx))
}

/// Read one byte at a time up to and including the next newline (at most `limit` bytes).
/// Returns what to send: the bytes read, then the end of the input if it came first.
fn finish_line(r: &mut dyn Read, input: usize, limit: usize) -> Vec<Msg> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    let mut end = None;
    while line.len() <= limit {
        match r.read(&mut byte) {
            Ok(0) => {
                end = Some(Msg::End { input, error: None });
                break;
            }
            Ok(_) => {
                line.push(byte[0]);
                if byte[0] == b'\n' {
                    break;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                end = Some(Msg::End {
                    input,
                    error: Some(e),
                });
                break;
            }
        }
    }
    let mut msgs = Vec::new();
    if !line.is_empty() {
        msgs.push(Msg::Data {
            input,
            len: line.len(),
            buf: line,
            short: true,
        });
    }
    msgs.extend(end);
    msgs
}
