//! The filter's input side for FILEs and stdin: one thread reads the inputs in turn into
//! 1 MiB chunks and hands them to the engine thread through a short queue. Reading on its
//! own thread lets a SIGTERM be noticed while stdin is idle (a blocked `read` is never
//! interrupted: the signal handlers restart it), and overlaps reading with detection.

use crate::shutdown::StopFlag;
use std::io::{ErrorKind, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

pub(crate) const CHUNK: usize = 1 << 20;

/// Chunks in circulation: two queued, one being read into, one being processed.
const POOL: usize = 4;

/// A read shorter than this found the pipe nearly empty.
const SMALL_READ: usize = 16 << 10;
/// The pause after the second small read in a row: at most this much latency on a trickle,
/// and at most a thousand reads (and flushes) a second.
const GATHER: std::time::Duration = std::time::Duration::from_millis(1);

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
    let (back_tx, back_rx) = sync_channel::<Vec<u8>>(POOL);
    std::thread::Builder::new()
        .name("read".into())
        .spawn(move || {
            let mut pool = 0;
            let mut spare: Option<Vec<u8>> = None;
            for (input, mut r) in inputs.into_iter().enumerate() {
                // Whether everything sent so far of this input ends with a newline.
                let mut at_line_end = true;
                let (mut last_small, mut pause) = (false, false);
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
                    // A fixed pool of chunks: a fresh one would be 1 MiB to zero (and fault
                    // in) per read, and a pipe writer sending a few events per write makes
                    // tens of thousands of reads.
                    let spare_or_back = spare.take().map_or_else(|| back_rx.try_recv(), Ok);
                    let mut buf = match spare_or_back {
                        Ok(b) => b,
                        Err(_) if pool < POOL => {
                            pool += 1;
                            Vec::new()
                        }
                        Err(_) => match back_rx.recv() {
                            Ok(b) => b,
                            Err(_) => return, // the engine side is gone
                        },
                    };
                    if buf.len() != CHUNK {
                        buf.resize(CHUNK, 0);
                    }
                    let msg = match r.read(&mut buf) {
                        // The chunk was not filled: keep it for the next read (it belongs to
                        // the pool; dropped, it would leave one fewer and, one file at a
                        // time, none).
                        Ok(0) => {
                            spare = Some(buf);
                            Msg::End { input, error: None }
                        }
                        Ok(n) => {
                            at_line_end = buf[n - 1] == b'\n';
                            // Two small reads in a row: the writer trickles (Vector writes
                            // an event or a few at a time). Every read of an empty pipe is a
                            // sleep and a wake-up, and they cost jcdetect more CPU than the
                            // detection; a pause lets the next writes gather into one read.
                            // A fast writer fills the pipe between reads, so it never
                            // pauses and is never slowed.
                            pause = n < SMALL_READ && last_small;
                            last_small = n < SMALL_READ;
                            Msg::Data {
                                input,
                                buf,
                                len: n,
                                short: n < CHUNK,
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::Interrupted => {
                            spare = Some(buf);
                            continue;
                        }
                        Err(e) => {
                            spare = Some(buf);
                            Msg::End {
                                input,
                                error: Some(e),
                            }
                        }
                    };
                    let end = matches!(msg, Msg::End { .. });
                    if tx.send(msg).is_err() {
                        return; // the engine side is gone
                    }
                    if end {
                        break;
                    }
                    if pause {
                        std::thread::sleep(GATHER);
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

/// A pipe on stdin holds 64 KiB by default. Reading it at most a thousand times a second
/// (the pause after small reads) would then cap a fast writer that writes in small pieces
/// at about 64 MB/s; at 1 MiB (the most an unprivileged process may ask) the cap is far
/// above any pipeline. Not a pipe, or refused: nothing changes.
#[cfg(target_os = "linux")]
pub(crate) fn grow_stdin_pipe() {
    let stdin = std::io::stdin();
    let is_pipe = rustix::fs::fstat(&stdin).is_ok_and(|st| {
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Fifo
    });
    if is_pipe {
        let _ = rustix::pipe::fcntl_setpipe_size(&stdin, CHUNK);
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn grow_stdin_pipe() {}
