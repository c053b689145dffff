//! The filter's input side for FILEs and stdin: one thread reads the inputs in turn into
//! 1 MiB chunks and hands them to the engine thread through a short queue ([`spawn`]); the
//! engine thread feeds them to the engine as they come ([`run`]). Reading on its own thread
//! lets a SIGTERM be noticed while stdin is idle (a blocked `read` is never interrupted: the
//! signal handlers restart it), and overlaps reading with detection.

use super::now_nanos;
use crate::engine_host::{Backend, Fault};
use crate::output::Sink;
use crate::report::Reporter;
use crate::shutdown::StopFlag;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

const CHUNK: usize = 1 << 20;

/// An input opened: its name in diagnostics (`<stdin>` or the path) and its reader.
pub struct Opened {
    name: String,
    reader: Box<dyn Read + Send>,
}

/// Open every FILE (`-` = stdin; none = stdin) before any is read: a typo in a name is
/// reported before a half-done run.
pub fn open(paths: &[PathBuf]) -> Result<Vec<Opened>, String> {
    let stdin = [PathBuf::from("-")];
    let paths = if paths.is_empty() { &stdin[..] } else { paths };
    let mut inputs = Vec::with_capacity(paths.len());
    for path in paths {
        if path == Path::new("-") {
            grow_stdin_pipe();
            inputs.push(Opened {
                name: "<stdin>".into(),
                reader: Box::new(std::io::stdin()),
            });
        } else {
            let name = path.display().to_string();
            match File::open(path) {
                Ok(file) => inputs.push(Opened {
                    name,
                    reader: Box::new(file),
                }),
                Err(e) => return Err(format!("cannot open {name}: {e}")),
            }
        }
    }
    Ok(inputs)
}

/// Read `inputs` in turn and feed them to `engine` until every input ended, a stop was asked
/// for, or the output closed. The status is 1 when an input could not be read or the output
/// could not be written (both reported here); `Err` when the WASM module trapped.
pub fn run(
    inputs: Vec<Opened>,
    engine: &mut Backend,
    sink: &mut Sink,
    rep: &mut Reporter,
    stop: &StopFlag,
    max_line_bytes: usize,
) -> Result<ExitCode, Fault> {
    let (names, readers): (Vec<String>, Vec<Box<dyn Read + Send>>) =
        inputs.into_iter().map(|i| (i.name, i.reader)).unzip();
    match spawn(readers, stop.clone(), max_line_bytes) {
        Ok((rx, back)) => read_loop(&rx, &back, &names, engine, sink, rep, stop)
            .map(|s| s.unwrap_or(ExitCode::SUCCESS)),
        Err(e) => {
            tracing::error!("cannot start the reader thread: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// Chunks in circulation: two queued, one being read into, one being processed.
const POOL: usize = 4;

/// A read shorter than this found the pipe nearly empty.
const SMALL_READ: usize = 16 << 10;
/// The pause after the second small read in a row: at most this much latency on a trickle,
/// and at most a thousand reads (and flushes) a second.
const GATHER: std::time::Duration = std::time::Duration::from_millis(1);

enum Msg {
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

/// Feed the reader thread's chunks to the engine until every input ended, a stop was asked
/// for, or the output closed. `Ok(Some(1))` when an input could not be read or the output
/// could not be written.
fn read_loop(
    rx: &Receiver<Msg>,
    back: &SyncSender<Vec<u8>>,
    names: &[String],
    engine: &mut Backend,
    sink: &mut Sink,
    rep: &mut Reporter,
    stop: &StopFlag,
) -> Result<Option<ExitCode>, Fault> {
    let mut status = None;
    let mut diags = Vec::new();
    // The input being read (its line numbers restart at 1), if one has begun.
    let mut current: Option<usize> = None;
    // Once a stop is asked for, wait (bounded: the input may be idle in the middle of a
    // line) for the reader to finish the line it is in and say it stopped.
    let mut deadline: Option<Instant> = None;
    let mut stopped_at: Option<Instant> = None;
    // Whether what was fed of the current input ends with a newline.
    let mut at_line_end = true;
    loop {
        if stop.is_set() {
            // At a line boundary only a read already under way can still bring bytes; inside
            // a line (also one such a read just began) the writer gets 2 s from the stop.
            let at = *stopped_at.get_or_insert_with(Instant::now);
            let grace = if at_line_end { 50 } else { 2000 };
            let d = at + Duration::from_millis(grace);
            deadline = Some(deadline.map_or(d, |old| old.max(d)));
        }
        let wait = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()),
            None => Duration::from_millis(100),
        };
        let msg = match rx.recv_timeout(wait) {
            Ok(Msg::Stopped) => break,
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) if deadline.is_some() => {
                if !at_line_end {
                    tracing::warn!("the input did not finish its line within 2 s of the stop");
                }
                break;
            }
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let input = match &msg {
            Msg::Data { input, .. } | Msg::End { input, .. } => *input,
            Msg::Stopped => continue,
        };
        if current != Some(input) {
            engine.start_input()?;
            current = Some(input);
        }
        let name = &names[input];
        match msg {
            Msg::Data {
                buf, len, short, ..
            } => {
                let data = &buf[..len];
                at_line_end = data.last() == Some(&b'\n');
                // Alerts need a time even when no event carried one: the reading time.
                let fed = engine
                    .set_fallback_time(now_nanos())
                    .and_then(|()| engine.feed(data, &mut sink.buf, &mut diags));
                rep.report(name, &mut diags);
                let _ = back.try_send(buf);
                fed?;
                let end = if short {
                    sink.flush_or_end()
                } else {
                    sink.flush_if_full()
                };
                if let Some(code) = end {
                    // A closed pipe keeps the status so far; a write error makes it 1.
                    return Ok(status.or(Some(code)));
                }
            }
            Msg::Stopped => {}
            Msg::End { error, .. } => {
                if let Some(e) = error {
                    tracing::error!("{name}: read error: {e}");
                    status = Some(ExitCode::from(1));
                }
                let finished = engine.finish(&mut sink.buf, &mut diags);
                rep.report(name, &mut diags);
                finished?;
                current = None;
                at_line_end = true;
            }
        }
    }
    if let Some(input) = current {
        // Stopped inside an input: a line still unterminated after the grace time is
        // processed as at the end of input (reported if it is cut short), never dropped.
        let finished = engine.finish(&mut sink.buf, &mut diags);
        rep.report(&names[input], &mut diags);
        finished?;
    }
    if stop.is_set() {
        tracing::info!("stopped by a signal; alerts flushed");
    }
    Ok(status)
}

/// Start reading. Chunks go back through the returned sender to be reused.
fn spawn(
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
fn grow_stdin_pipe() {
    let stdin = std::io::stdin();
    let is_pipe = rustix::fs::fstat(&stdin).is_ok_and(|st| {
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Fifo
    });
    if is_pipe {
        let _ = rustix::pipe::fcntl_setpipe_size(&stdin, CHUNK);
    }
}

#[cfg(not(target_os = "linux"))]
fn grow_stdin_pipe() {}
