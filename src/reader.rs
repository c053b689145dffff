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
        buf: Vec<u8>,
        short: bool,
    },
    /// End of input `input`, with the read error that ended it, if any.
    End {
        input: usize,
        error: Option<std::io::Error>,
    },
}

/// Start reading. Chunks go back through the returned sender to be reused.
pub(crate) fn spawn(
    inputs: Vec<Box<dyn Read + Send>>,
    stop: StopFlag,
) -> std::io::Result<(Receiver<Msg>, SyncSender<Vec<u8>>)> {
    let (tx, rx) = sync_channel::<Msg>(2);
    let (back_tx, back_rx) = sync_channel::<Vec<u8>>(4);
    std::thread::Builder::new()
        .name("read".into())
        .spawn(move || {
            for (input, mut r) in inputs.into_iter().enumerate() {
                loop {
                    // Stop reading at once; what was read is still processed.
                    if stop.is_set() {
                        return;
                    }
                    let mut buf = back_rx.try_recv().unwrap_or_default();
                    buf.resize(CHUNK, 0);
                    let msg = match r.read(&mut buf) {
                        Ok(0) => Msg::End { input, error: None },
                        Ok(n) => {
                            buf.truncate(n);
                            Msg::Data {
                                input,
                                buf,
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
