//! `jcdetect --listen ADDR`: accept TCP connections carrying NDJSON (Vector's `socket` sink
//! with `framing.method: newline_delimited`) and feed every line to one engine.
//!
//! Threads and framing:
//! - one acceptor thread; one reader thread per connection, which splits its own byte stream
//!   into lines with its own [`Framer`] (the engine's framing, so lines are framed as from a
//!   file), so a line is never split or merged across connections. A reader sends whole
//!   lines, in batches (one per socket read), over a channel to the engine, which runs on the
//!   main thread and owns the only [`Engine`]: all connections share its state.
//! - A line longer than `--max-line-bytes` is dropped by its reader without being buffered and
//!   reported as `line_too_long`; a final line without a newline is processed when its
//!   connection closes. Diagnostics name the connection (`tcp#N PEER`) and its own line number.
//! - Memory in flight is bounded: readers wait (and stop reading their socket, so TCP pushes
//!   back on the client) while more than [`IN_FLIGHT`] bytes are queued for the engine.
//! - At most [`MAX_CONNECTIONS`] connections at once; more are closed at once with a warning.
//! - The engine flushes the output whenever the channel is empty (input idle).
//!
//! What ends a run: being killed (SIGTERM/SIGINT), stdout being closed (exit 0), or the
//! listening socket failing. End of stdin does not (an `exec` source gives `/dev/null`), nor
//! does a client disconnecting: clients may reconnect at any time.

use super::now_nanos;
use crate::output::Sink;
use crate::report::Reporter;
use crate::shutdown::StopFlag;
use jcdetect::frame::{Frame, Framer};
use jcdetect::{Diagnostic, Engine};
use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::Range;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Bytes of complete lines queued for the engine before readers wait.
const IN_FLIGHT: usize = 64 << 20;
/// Connections served at once.
const MAX_CONNECTIONS: usize = 256;
/// Socket read size.
const READ_SIZE: usize = 64 << 10;

pub struct Listener {
    listener: TcpListener,
    addr: SocketAddr,
}

enum Item {
    Line(Range<usize>),
    /// A line over `--max-line-bytes`: its length, and where in the batch's data the start
    /// of it is kept (empty unless `--errors` asked for rejected lines).
    TooLong(usize, Range<usize>),
}

enum Msg {
    /// Lines of one connection, numbered from `first_line`, held in `data`.
    Batch {
        conn: Arc<str>,
        first_line: u64,
        data: Vec<u8>,
        items: Vec<Item>,
    },
    Closed {
        conn: Arc<str>,
        lines: u64,
    },
}

/// A byte budget shared by the readers (acquire) and the engine (release).
struct Budget {
    used: Mutex<usize>,
    freed: Condvar,
}

impl Budget {
    fn acquire(&self, n: usize) {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        // A batch larger than the whole budget still passes when nothing else is queued.
        while *used > 0 && *used + n > IN_FLIGHT {
            used = self.freed.wait(used).unwrap_or_else(|p| p.into_inner());
        }
        *used += n;
    }
    fn release(&self, n: usize) {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        *used = used.saturating_sub(n);
        self.freed.notify_all();
    }
}

impl Listener {
    pub fn bind(addr: &str) -> Result<Listener, String> {
        let listener =
            TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        Ok(Listener { listener, addr })
    }

    pub fn run(
        self,
        engine: &mut Engine,
        sink: &mut Sink,
        rep: &mut Reporter,
        max_line_bytes: usize,
        stop: &StopFlag,
    ) -> ExitCode {
        // Always printed: with port 0 it is the only way to learn the port.
        eprintln!("jcdetect: listening on {}", self.addr);
        if !self.addr.ip().is_loopback() {
            tracing::warn!(
                "{} is not a loopback address: anyone who can reach it can send events \
                 (no authentication, no TLS)",
                self.addr
            );
        }
        let (tx, rx) = mpsc::channel();
        let budget = Arc::new(Budget {
            used: Mutex::new(0),
            freed: Condvar::new(),
        });
        let acceptor_budget = Arc::clone(&budget);
        let listener = self.listener;
        let framing = Framing {
            max_line_bytes,
            // With --errors the readers keep the start of each over-long line they drop.
            keep_prefix: engine.options().keep_rejected,
        };
        let spawned = std::thread::Builder::new()
            .name("accept".into())
            .spawn(move || accept_loop(listener, tx, acceptor_budget, framing));
        if let Err(e) = spawned {
            tracing::error!("cannot start the listener thread: {e}");
            return ExitCode::from(1);
        }
        engine_loop(rx, &budget, engine, sink, rep, stop)
    }
}

fn engine_loop(
    rx: Receiver<Msg>,
    budget: &Budget,
    engine: &mut Engine,
    sink: &mut Sink,
    rep: &mut Reporter,
    stop: &StopFlag,
) -> ExitCode {
    use std::sync::mpsc::RecvTimeoutError;
    let mut diags = Vec::new();
    // Ends when a stop is asked for, or when the acceptor thread is gone (the listening
    // socket failed).
    loop {
        stop.reload_if_asked(engine);
        if stop.is_set() {
            // Lines already framed and queued are processed (bounded: the connection
            // threads may still be framing); a connection's unterminated last line is not.
            for _ in 0..100_000 {
                match rx.try_recv() {
                    Ok(m) => handle(m, budget, engine, sink, rep, &mut diags),
                    Err(_) => break,
                }
            }
            tracing::info!("stopped by a signal; alerts flushed");
            return sink.flush_or_end().unwrap_or(ExitCode::SUCCESS);
        }
        let msg = match rx.recv_timeout(std::time::Duration::from_millis(100)) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut next = Some(msg);
        while let Some(msg) = next.take() {
            handle(msg, budget, engine, sink, rep, &mut diags);
            if let Some(code) = sink.flush_if_full() {
                return code;
            }
            if stop.is_set() {
                break;
            }
            match rx.try_recv() {
                Ok(m) => next = Some(m),
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => {}
            }
        }
        // Nothing more queued: hand the alerts downstream now.
        if let Some(code) = sink.flush_or_end() {
            return code;
        }
    }
    tracing::error!("the listening socket failed; stopping");
    if let Some(code) = sink.flush_or_end() {
        return code;
    }
    ExitCode::from(1)
}

fn handle(
    msg: Msg,
    budget: &Budget,
    engine: &mut Engine,
    sink: &mut Sink,
    rep: &mut Reporter,
    diags: &mut Vec<Diagnostic>,
) {
    match msg {
        Msg::Batch {
            conn,
            first_line,
            data,
            items,
        } => {
            engine.set_fallback_time(now_nanos());
            for (i, item) in items.iter().enumerate() {
                let start = diags.len();
                match item {
                    Item::Line(r) => engine.process_line(&data[r.clone()], &mut sink.buf, diags),
                    Item::TooLong(len, kept) => {
                        engine.reject_long_line_prefix(*len, &data[kept.clone()], diags)
                    }
                }
                // The engine numbers lines across all connections; report the connection's own.
                for d in &mut diags[start..] {
                    d.line = first_line + i as u64;
                }
            }
            rep.report(&conn, diags);
            budget.release(data.len());
        }
        Msg::Closed { conn, lines } => tracing::info!("{conn}: closed after {lines} lines"),
    }
}

/// How a reader frames its connection.
#[derive(Clone, Copy)]
struct Framing {
    max_line_bytes: usize,
    /// Keep the start of an over-long line (for `--errors`).
    keep_prefix: bool,
}

/// The lines of one batch: their bytes (of an over-long line, its kept start) and where
/// each one is.
#[derive(Default)]
struct Batch {
    data: Vec<u8>,
    items: Vec<Item>,
}

impl Batch {
    fn push(&mut self, f: Frame<'_>) {
        let start = self.data.len();
        match f {
            Frame::Line(line) => {
                self.data.extend_from_slice(line);
                self.items.push(Item::Line(start..self.data.len()));
            }
            Frame::TooLong { len, prefix } => {
                self.data.extend_from_slice(&prefix);
                self.items.push(Item::TooLong(len, start..self.data.len()));
            }
        }
    }
}

fn accept_loop(listener: TcpListener, tx: Sender<Msg>, budget: Arc<Budget>, framing: Framing) {
    let active = Arc::new(AtomicUsize::new(0));
    let mut next_id = 0u64;
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                // E.g. out of file descriptors: wait a little instead of spinning.
                tracing::warn!("accept failed: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        next_id += 1;
        let peer = stream
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| "?".into());
        let conn: Arc<str> = format!("tcp#{next_id} {peer}").into();
        if active.load(Ordering::Acquire) >= MAX_CONNECTIONS {
            tracing::warn!("{conn}: refused, already {MAX_CONNECTIONS} connections");
            continue;
        }
        active.fetch_add(1, Ordering::AcqRel);
        tracing::info!("{conn}: connected");
        let (tx, budget, count) = (tx.clone(), Arc::clone(&budget), Arc::clone(&active));
        let name = conn.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("tcp#{next_id}"))
            .spawn(move || {
                read_connection(stream, conn, &tx, &budget, framing);
                count.fetch_sub(1, Ordering::AcqRel);
            });
        if let Err(e) = spawned {
            tracing::warn!("{name}: cannot start a reader thread: {e}");
            active.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Split one connection into lines and send them to the engine, in order.
fn read_connection(
    mut stream: TcpStream,
    conn: Arc<str>,
    tx: &Sender<Msg>,
    budget: &Budget,
    framing: Framing,
) {
    let mut framer = Framer::new(framing.max_line_bytes, framing.keep_prefix);
    let mut buf = vec![0u8; READ_SIZE];
    let mut batch = Batch::default();
    let mut lines = 0u64;
    let mut send = |batch: &mut Batch| -> bool {
        if batch.items.is_empty() {
            return true;
        }
        let Batch { data, items } = std::mem::take(batch);
        let first_line = lines + 1;
        lines += items.len() as u64;
        budget.acquire(data.len());
        let n = data.len();
        let sent = tx.send(Msg::Batch {
            conn: conn.clone(),
            first_line,
            data,
            items,
        });
        if sent.is_err() {
            budget.release(n);
        }
        sent.is_ok()
    };
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!("{conn}: read error: {e}");
                break;
            }
        };
        framer.feed(&buf[..n], |f| batch.push(f));
        if !send(&mut batch) {
            return;
        }
    }
    // The connection is closed: a last line without a newline still counts.
    framer.finish(|f| batch.push(f));
    if send(&mut batch) {
        let _ = tx.send(Msg::Closed {
            conn: conn.clone(),
            lines,
        });
    }
}
