//! `jcdetect`: the command-line shell around the library. Detection lives in the library;
//! here are arguments (`args`), inputs (`input/`), output (`output`), stderr (`report`),
//! the engine behind the loops (`engine_host`), `--state`, `--errors`, signals, and the
//! commands (`commands/`).
// No `unsafe` here either: signals go through signal-hook's safe API; the only `unsafe` in
// the project is the WASM ABI shims (wasm/src/ffi.rs).
#![forbid(unsafe_code)]

mod args;
mod commands;
mod dead_letter;
mod engine_host;
mod input;
mod output;
mod report;
mod shutdown;
mod state_file;

use args::Command;
use std::process::ExitCode;

fn main() -> ExitCode {
    // First thing: `jcdetect bench` reports the time from here to the first event processed.
    let started = std::time::Instant::now();
    let command = match args::parse() {
        Ok(c) => c,
        Err(status) => return status,
    };
    report::init(match &command {
        Command::Filter(f) => f.quiet,
        Command::Pull(p) => p.quiet,
        _ => false,
    });
    match command {
        Command::Filter(a) => commands::filter::run(a),
        Command::Pull(a) => commands::pull::run(a),
        Command::Rules(a) => commands::rules::run(a),
        Command::Generate(a) => commands::generate::run(a),
        Command::Bench(a) => commands::bench::run(a, started),
        Command::Completions(shell) => args::completions(shell),
    }
}
