//! `jcdetect pull`: DI events from the Directory Insights API to standard output, one JSON
//! object a line, with the cursor in `--state` (the filter's `--pull` is the same source
//! feeding the engine: `commands/filter.rs`).

use crate::args::Pull;
use crate::input::pull::{End, Every, Out, Pull as Source};
use crate::report::setup_error;
use crate::{shutdown, state_file};
use jcdetect::pull::cursor::Cursor;
use std::io::{self, ErrorKind, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

pub fn run(args: Pull) -> ExitCode {
    // First: a stop during start-up is a clean stop too.
    let stop = shutdown::install();
    // Held to the end of the run.
    let _lock = match args.state.as_deref().map(state_file::lock) {
        Some(Err(e)) => return setup_error(e),
        Some(Ok(l)) => l,
        None => None,
    };
    let cursor = match args.state.as_deref().map(load) {
        Some(Ok(c)) => c,
        Some(Err(e)) => return setup_error(e),
        None => None,
    };
    let mut source = match Source::open(&args.source) {
        Ok(s) => s,
        Err(e) => return setup_error(e),
    };
    if let Some(saved) = cursor {
        source.resume(&args.source, saved);
    }
    // A --state that cannot be written is found now, not after hours of delivered pages
    // whose cursor would be lost.
    let mut saved: Vec<u8> = Vec::new();
    if let Some(path) = &args.state {
        let bytes = source.puller.cursor_json();
        if let Err(e) = state_file::save(path, &bytes) {
            return setup_error(format!("cannot write --state {}: {e}", path.display()));
        }
        saved = bytes;
    }
    let mut out = io::stdout().lock();
    let mut deliver = |lines: &[u8]| -> Result<(), ExitCode> {
        out.write_all(lines)
            .and_then(|()| out.flush())
            .map_err(|e| {
                if e.kind() == ErrorKind::BrokenPipe {
                    ExitCode::SUCCESS
                } else {
                    tracing::error!("writing output: {e}");
                    ExitCode::from(1)
                }
            })
    };
    // The cursor is saved after delivered pages at most once a second (--checkpoint-secs),
    // and before each sleep (between polls, before a retry) when it changed: a crash
    // repeats at most a second of pages; a clean stop repeats nothing.
    let mut every = Every::new(args.source.checkpoint.unwrap_or(Duration::from_secs(1)));
    let mut save_failed = false;
    let mut checkpoint = |p: &jcdetect::pull::Puller, quiet: bool| {
        let Some(path) = &args.state else { return };
        if !(quiet || every.due()) {
            return;
        }
        let bytes = p.cursor_json();
        if bytes == saved {
            return;
        }
        match state_file::save(path, &bytes) {
            Ok(()) => saved = bytes,
            Err(e) => {
                if !save_failed {
                    tracing::error!("cannot save --state {}: {e}", path.display());
                }
                save_failed = true;
            }
        }
    };
    let end = source.run(&stop, &mut |o| match o {
        Out::Events(lines) => deliver(lines),
        Out::Checkpoint { puller, quiet } => {
            checkpoint(puller, quiet);
            Ok(())
        }
    });
    let mut status = match end {
        End::Done => ExitCode::SUCCESS,
        End::Stopped => {
            tracing::info!("pull: stopped by a signal");
            ExitCode::SUCCESS
        }
        End::Output(code) => code,
        End::Refused(msg) => {
            write_stats(&source, args.stats_json.as_deref());
            return setup_error(format!("pull: {msg}"));
        }
    };
    if let Some(path) = &args.state {
        let bytes = source.puller.cursor_json();
        match state_file::save(path, &bytes) {
            Ok(()) => tracing::info!("pull: cursor saved to {}", path.display()),
            Err(e) => {
                tracing::error!("cannot save --state {}: {e}", path.display());
                status = ExitCode::from(1);
            }
        }
    }
    let c = source.puller.counters();
    tracing::info!(
        "pull: {} events in {} pages ({} requests, {} retries, {} already delivered and skipped)",
        c.events,
        c.pages,
        c.requests,
        c.retries,
        c.duplicates
    );
    if !write_stats(&source, args.stats_json.as_deref()) {
        status = ExitCode::from(1);
    }
    status
}

/// `--stats-json FILE`: the counters under `pull`. `false` if it could not be written.
fn write_stats(source: &Source, path: Option<&Path>) -> bool {
    let Some(path) = path else { return true };
    let json = serde_json::json!({ "pull": source.stats() });
    match std::fs::write(path, format!("{json}\n")) {
        Ok(()) => true,
        Err(e) => {
            tracing::error!("cannot write --stats-json {}: {e}", path.display());
            false
        }
    }
}

/// The saved cursors: none yet (no file, or an empty one), or those the file holds. Anything
/// else is refused: starting over from `--since` would deliver events twice or skip some.
fn load(path: &Path) -> Result<Option<Vec<Cursor>>, String> {
    let shown = path.display();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            tracing::info!("pull: {shown} does not exist yet; starting from --since");
            return Ok(None);
        }
        Err(e) => return Err(format!("cannot read --state {shown}: {e}")),
    };
    if bytes.is_empty() {
        tracing::warn!("pull: {shown} is empty; starting from --since");
        return Ok(None);
    }
    let saved = jcdetect::pull::cursor::decode(&bytes).map_err(|e| {
        format!(
            "--state {shown}: {e}; it is not a cursor of `jcdetect pull` (move it away to \
             start again from --since)"
        )
    })?;
    Ok(Some(saved))
}
