//! `jcdetect generate`: write a synthetic DI replay to stdout and its ground truth to a file.
//! The generator itself is the library's `replay` module; this is arguments and I/O.

use jcdetect::replay::{generate, AttackMix, GenConfig};
use std::io::{self, ErrorKind, Write};
use std::path::PathBuf;
use std::process::ExitCode;

pub const HELP: &str = "\
jcdetect generate - write a deterministic synthetic DI replay with its ground truth

USAGE:
    jcdetect generate --events N [--seed S] [--attack-mix SPEC] [--users N] [--admins N]
                      [--ips N] [--out-of-order F] [--truth FILE] > replay.ndjson

OPTIONS:
        --events N          events (= lines) to write (required)
        --seed S            seed; the same seed gives the same bytes (default 1)
        --attack-mix SPEC   attack stories: `none`, or kind=N items separated by commas
                            (unnamed kinds get 0; `all=N` sets every kind). Kinds: spray,
                            stuffing, brute, brute_only, lockout, admin_country,
                            user_country, travel, sso_burst, mfa_bypass (default all=2)
        --users N           directory users (default 5000)
        --admins N          administrators among them (default 50)
        --ips N             size of the background ip space (default 20000)
        --roaming F         share of logins from a fresh ip of the user's city (default 0.15)
        --out-of-order F    share of background events delivered up to 60 s late (default 0.005)
        --truth FILE        write the ground truth (expected alerts, counts) as JSON to FILE
    -h, --help              this help
";

/// Parsed `generate` arguments.
pub struct GenArgs {
    cfg: GenConfig,
    truth: Option<PathBuf>,
}

/// `Ok(None)` means help was asked for.
pub fn parse(args: impl Iterator<Item = String>) -> Result<Option<GenArgs>, String> {
    let mut cfg = GenConfig::default();
    let mut events = None;
    let mut truth = None;
    let mut it = args.peekable();
    while let Some(a) = it.next() {
        let (name, inline) = crate::split_option(&a);
        const OPTIONS: [&str; 10] = [
            "--events",
            "--seed",
            "--users",
            "--admins",
            "--ips",
            "--roaming",
            "--out-of-order",
            "--attack-mix",
            "--truth",
            "--help",
        ];
        if name == "-h" || name == "--help" {
            return Ok(None);
        }
        if !OPTIONS.contains(&name.as_str()) {
            return Err(format!("unknown argument `{name}` for `generate`"));
        }
        let value = inline
            .or_else(|| it.next())
            .ok_or(format!("{name} needs a value"))?;
        fn num<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String> {
            v.trim()
                .parse()
                .map_err(|_| format!("{name}: `{v}` is not a valid number"))
        }
        match name.as_str() {
            "--events" => events = Some(num::<u64>(&name, &value)?),
            "--seed" => cfg.seed = num(&name, &value)?,
            "--users" => cfg.users = num(&name, &value)?,
            "--admins" => cfg.admins = num(&name, &value)?,
            "--ips" => cfg.ips = num(&name, &value)?,
            "--roaming" => cfg.roaming = num(&name, &value)?,
            "--out-of-order" => cfg.out_of_order = num(&name, &value)?,
            "--attack-mix" => {
                cfg.attacks = AttackMix::parse(&value).map_err(|e| format!("--attack-mix: {e}"))?
            }
            "--truth" => truth = Some(PathBuf::from(value)),
            _ => unreachable!("checked against OPTIONS"),
        }
    }
    cfg.events = events.ok_or("generate needs --events N")?;
    if cfg.events == 0 {
        return Err("--events must be positive".into());
    }
    cfg.validate()?;
    Ok(Some(GenArgs { cfg, truth }))
}

/// Stream the replay to stdout; a closed pipe ends the run quietly (exit 0).
pub fn run(args: GenArgs) -> ExitCode {
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
        Err(e) => {
            eprintln!("jcdetect: {e}\nTry `jcdetect generate --help`.");
            return ExitCode::from(2);
        }
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
        eprintln!("jcdetect: writing output: {e}");
        return ExitCode::from(1);
    }
    if let Some(path) = &args.truth {
        if let Err(e) = std::fs::write(path, truth.to_json(&args.cfg)) {
            eprintln!("jcdetect: cannot write --truth {}: {e}", path.display());
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}
