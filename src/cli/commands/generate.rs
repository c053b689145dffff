//! `jcdetect generate`: write a synthetic DI replay to stdout and its ground truth to a file.
//! The generator itself is the library's `replay` module; this is arguments and I/O.

use crate::args::{usage_error, Generate};
use jcdetect::replay::generate;
use std::io::{self, ErrorKind, Write};
use std::process::ExitCode;

/// Stream the replay to stdout; a closed pipe ends the run quietly (exit 0).
pub fn run(args: Generate) -> ExitCode {
    if let Some(n) = args.sigma_rules {
        let text = jcdetect::replay::sigma_rules(n, args.cfg.seed);
        return crate::output::write_stdout(text.as_bytes());
    }
    const FLUSH_AT: usize = 1 << 20;
    let mut out = io::stdout().lock();
    let mut buf: Vec<u8> = Vec::with_capacity(2 * FLUSH_AT);
    let mut failed: Option<io::Error> = None;
    let mut closed = false;
    let mut write = |buf: &mut Vec<u8>, closed: &mut bool, failed: &mut Option<io::Error>| {
        if !*closed && failed.is_none() {
            if let Err(e) = out.write_all(buf) {
                if e.kind() == ErrorKind::BrokenPipe {
                    *closed = true;
                } else {
                    *failed = Some(e);
                }
            }
        }
        buf.clear();
    };
    let result = generate(&args.cfg, |line| {
        // After a write error the rest is generated but dropped: the truth stays whole.
        buf.extend_from_slice(line);
        if buf.len() >= FLUSH_AT {
            write(&mut buf, &mut closed, &mut failed);
        }
    });
    let truth = match result {
        Ok(t) => t,
        // Options that do not fit together (too few events for the stories).
        Err(e) => return usage_error(Some("generate"), e),
    };
    write(&mut buf, &mut closed, &mut failed);
    if !closed && failed.is_none() {
        if let Err(e) = out.flush() {
            if e.kind() != ErrorKind::BrokenPipe {
                failed = Some(e);
            }
        }
    }
    if let Some(e) = failed {
        tracing::error!("writing output: {e}");
        return ExitCode::from(1);
    }
    if let Some(path) = &args.truth {
        if let Err(e) = std::fs::write(path, truth.to_json(&args.cfg)) {
            tracing::error!("cannot write --truth {}: {e}", path.display());
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}
