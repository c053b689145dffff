//! The filter (`jcdetect [OPTIONS] [FILE]...`, `--follow FILE`, `--listen ADDR`, `--pull`): set up
//! everything that can fail before reading a byte (config, inputs, `--errors`, the engine,
//! `--state`), run the input's loop, then end the run: flush, save the state, log the summary,
//! write `--stats-json`.

use crate::args::{Filter, Input};
use crate::dead_letter::DeadLetter;
use crate::engine_host::{Backend, Fault};
use crate::input::follow::{Follower, Position};
use crate::input::pull::{End, Out, Pull};
use crate::input::{files, listen::Listener, now_nanos};
use crate::output::{Sink, Stop};
use crate::report::{setup_error, summary, Reporter};
use crate::{shutdown, state_file};
use jcdetect::Options;
use std::process::ExitCode;

/// The CLI's own bytes in the `--state` file: where `--follow` resumes, `--pull`'s cursor.
/// Saved in the same write as the windows, so the two always agree.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Host {
    follow: Option<Position>,
    /// The cursor's own JSON, kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pull: Option<Box<serde_json::value::RawValue>>,
}

impl Host {
    /// The host bytes of a `--pull` run: its cursor.
    fn of_pull(puller: &jcdetect::pull::Puller) -> Vec<u8> {
        let cursor = String::from_utf8(puller.cursor_json()).ok();
        let host = Host {
            follow: None,
            pull: cursor.and_then(|c| serde_json::value::RawValue::from_string(c).ok()),
        };
        serde_json::to_vec(&host).unwrap_or_default()
    }
}

/// With `--pull`, the state is also saved between polls, at most this often
/// (`--checkpoint-secs`).
const CHECKPOINT: std::time::Duration = std::time::Duration::from_secs(60);

/// The input, opened.
enum Source {
    Files(Vec<files::Opened>),
    Follow(Follower),
    Listen(Listener),
    Pull(Box<Pull>),
}

impl Source {
    /// Open FILEs, the followed file or the listening socket first: a typo in a name or a
    /// busy port is reported before any state is allocated or any input read.
    fn open(input: &Input) -> Result<Source, String> {
        Ok(match input {
            Input::Files(paths) => Source::Files(files::open(paths)?),
            Input::Follow { path, from_end } => Source::Follow(Follower::open(path, *from_end)?),
            Input::Listen(addr) => Source::Listen(Listener::bind(addr)?),
            Input::Pull(settings) => Source::Pull(Box::new(Pull::open(settings)?)),
        })
    }
}

pub fn run(args: Filter) -> ExitCode {
    let (cfg, cfg_text) = match super::load_config(args.config.as_deref(), &args.rules) {
        Ok(c) => c,
        Err(e) => return setup_error(e),
    };
    let mut source = match Source::open(&args.input) {
        Ok(s) => s,
        Err(e) => return setup_error(e),
    };
    let opts = Options {
        format: args.format,
        emit: args.emit,
        max_line_bytes: args.max_line_bytes,
        keep_rejected: args.errors.is_some(),
        ..Options::default()
    };
    let errors = match args.errors.as_deref().map(DeadLetter::open) {
        Some(Ok(e)) => Some(e),
        Some(Err(e)) => return setup_error(e),
        None => None,
    };
    let mut engine = match Backend::open(&cfg, &cfg_text, opts, args.wasm.as_ref()) {
        Ok(e) => e,
        Err(f) => return f.exit(),
    };
    // Held to the end of the run.
    let _lock = match args.state.as_deref().map(state_file::lock) {
        Some(Err(e)) => return setup_error(e),
        Some(Ok(l)) => l,
        None => None,
    };
    if let Some(path) = &args.state {
        let strict = matches!(args.input, Input::Pull(_));
        match state_file::load(path, &mut engine, strict) {
            Ok(bytes) => {
                // Empty (no --follow last time) or unreadable: nothing to resume.
                let host: Host = serde_json::from_slice(&bytes).unwrap_or_default();
                if let (Source::Follow(f), Some(at)) = (&mut source, &host.follow) {
                    f.resume(at);
                }
                if let (Source::Pull(p), Some(cursor), Input::Pull(settings)) =
                    (&mut source, &host.pull, &args.input)
                {
                    match jcdetect::pull::cursor::decode(cursor.get().as_bytes()) {
                        Ok(saved) => p.resume(settings, saved),
                        Err(e) => return setup_error(format!("--state {}: {e}", path.display())),
                    }
                }
            }
            Err(f) => return f.exit(),
        }
    }
    let mut sink = Sink::new(errors.clone());
    let mut rep = Reporter::new(args.quiet, errors.clone());
    let mut stop = shutdown::install();
    if !matches!(args.input, Input::Files(_)) {
        stop = stop.with_reload(args.config.clone(), args.rules.clone());
    }
    // --follow and --listen run on the native engine (the arguments refuse them with --wasm).
    let mut saved_host = Vec::new();
    let mut pull_stats: Option<serde_json::Value> = None;
    let mut fault: Option<Fault> = None;
    let mut status = match (source, &mut engine) {
        (Source::Files(inputs), engine) => {
            match files::run(
                inputs,
                engine,
                &mut sink,
                &mut rep,
                &stop,
                args.max_line_bytes,
            ) {
                Ok(s) => s,
                // A trap in the WASM module ends the run (after writing what it had produced).
                Err(f) => {
                    fault = Some(f);
                    ExitCode::SUCCESS
                }
            }
        }
        (Source::Follow(mut f), Backend::Native(e)) => {
            let code = f.run(e, &mut sink, &mut rep, &stop, args.state.is_some());
            let host = Host {
                follow: Some(f.position(e)),
                pull: None,
            };
            saved_host = serde_json::to_vec(&host).unwrap_or_default();
            code
        }
        (Source::Listen(l), Backend::Native(e)) => {
            l.run(e, &mut sink, &mut rep, args.max_line_bytes, &stop)
        }
        (Source::Pull(mut p), Backend::Native(e)) => {
            let mut diags = Vec::new();
            e.start_input();
            // The windows and the cursor are saved together: at the end, and between polls
            // at most every CHECKPOINT, so a crash of a long run repeats minutes, not days.
            let mut last_save = std::time::Instant::now();
            let every = match &args.input {
                Input::Pull(settings) => settings.checkpoint.unwrap_or(CHECKPOINT),
                _ => CHECKPOINT,
            };
            let end = p.run(&stop, &mut |out| match out {
                Out::Events(lines) => {
                    stop.reload_if_asked(e);
                    e.set_fallback_time(now_nanos());
                    e.feed(lines, &mut sink.buf, &mut diags);
                    rep.report("pull", &mut diags);
                    // Delivered means written downstream: only then is the cursor moved.
                    sink.flush_or_end().map_or(Ok(()), Err)
                }
                Out::Checkpoint { puller, quiet } => {
                    let Some(path) = &args.state else {
                        return Ok(());
                    };
                    if !quiet || last_save.elapsed() < every {
                        return Ok(());
                    }
                    last_save = std::time::Instant::now();
                    let bytes = e.snapshot_with(&Host::of_pull(puller));
                    if let Err(err) = state_file::save(path, &bytes) {
                        tracing::error!("cannot save --state {}: {err}", path.display());
                    }
                    Ok(())
                }
            });
            e.finish(&mut sink.buf, &mut diags);
            rep.report("pull", &mut diags);
            saved_host = Host::of_pull(&p.puller);
            pull_stats = Some(p.stats());
            match end {
                End::Done => ExitCode::SUCCESS,
                End::Stopped => {
                    tracing::info!("stopped by a signal; alerts flushed");
                    ExitCode::SUCCESS
                }
                End::Output(code) => code,
                End::Refused(msg) => {
                    fault = Some(Fault::Usage(format!("pull: {msg}")));
                    ExitCode::SUCCESS
                }
            }
        }
        // Refused with the arguments already; said again rather than assumed.
        #[cfg(feature = "wasm-host")]
        (_, Backend::Wasm(_)) => {
            fault = Some(Fault::Usage(
                "--wasm runs on FILEs and stdin; it does not combine with --follow, --listen or --pull"
                    .into(),
            ));
            ExitCode::SUCCESS
        }
    };
    match sink.flush() {
        Ok(()) | Err(Stop::BrokenPipe) => {}
        Err(Stop::Io(e)) => {
            tracing::error!("writing output: {e}");
            status = ExitCode::from(1);
        }
    }
    if let Some(e) = &errors {
        e.flush();
        if e.failed() {
            status = ExitCode::from(1);
        }
    }
    if let Some(f) = fault {
        return f.exit();
    }
    if let Some(path) = &args.state {
        if sink.broken {
            // Alerts that did not reach downstream would never fire again from saved state.
            tracing::warn!(
                "output not fully delivered: state not saved, {} keeps the previous run's",
                path.display()
            );
        } else {
            let bytes = match engine.snapshot(&saved_host) {
                Ok(b) => b,
                Err(f) => return f.exit(),
            };
            match state_file::save(path, &bytes) {
                Ok(()) => {
                    tracing::info!("state: saved {} bytes to {}", bytes.len(), path.display())
                }
                Err(e) => {
                    tracing::error!("cannot save --state {}: {e}", path.display());
                    status = ExitCode::from(1);
                }
            }
        }
    }
    let counters = match engine.stats() {
        Ok(c) => c,
        Err(f) => return f.exit(),
    };
    tracing::info!("{}", summary(&counters));
    if let Some(path) = &args.stats_json {
        let mut json = counters.json.clone();
        if let Some(pull) = pull_stats {
            // The source's counters beside the engine's.
            if let Ok(serde_json::Value::Object(mut m)) = serde_json::from_str(&json) {
                m.insert("pull".into(), pull);
                json = serde_json::Value::Object(m).to_string();
            }
        }
        if let Err(e) = std::fs::write(path, &json) {
            tracing::error!("cannot write --stats-json {}: {e}", path.display());
            status = ExitCode::from(1);
        }
    }
    status
}
