//! What the fuzz targets check, in one place: the targets in `fuzz_targets/` call these on
//! libFuzzer's inputs, and `tests/fuzz_regressions.rs` calls them on every file of
//! `regressions/<target>/` under plain `cargo test`. Each function panics on a violation.
#![allow(dead_code)] // each fuzz target uses one of the three

use jcdetect::decode::{decode, decode_with_serde};
use jcdetect::{Code, Config, Diagnostic, Emit, Engine, Format, Options};

/// Real DI events (with attack stories) fed to every engine a fuzzed config builds.
const SAMPLE: &str = include_str!("../data/example.ndjson");

/// The config target builds engines with at most this much window state (see `config`).
pub const CONFIG_MEMORY_MB: u64 = 16;

/// serde_json's rejections that the fast decoder deliberately does not share (the
/// leniencies of tests/decoder.rs: a lone surrogate, an out-of-f64-range number).
fn serde_leniency(e: &serde_json::Error) -> bool {
    let m = e.to_string();
    m.contains("surrogate")
        || m.contains("unexpected end of hex escape")
        || m.contains("number out of range")
        || serde_too_deep(e)
}

/// serde_json stops at 128 levels of nesting; the fast scanner has no recursion and no limit
/// (`deliberate_leniencies` in tests/decoder.rs), so past that depth serde is no reference.
fn serde_too_deep(e: &serde_json::Error) -> bool {
    e.to_string().contains("recursion limit exceeded")
}

/// The line decoder: `decode::decode` never panics and agrees with the serde_json reference
/// decoder exactly where tests/decoder.rs requires it: both accept with the same fields, or
/// both reject and the rejection is `not_an_object` exactly when the text is valid JSON;
/// the fast decoder may accept what serde rejects only for the documented leniencies.
pub fn decoder(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        // The engine checks UTF-8 before decoding; the text of a lossy conversion still
        // exercises the scanner on whatever the bytes were.
        let lossy = String::from_utf8_lossy(data);
        let _ = decode(&lossy);
        return;
    };
    let fast = decode(text);
    let slow = decode_with_serde(text);
    let json = serde_json::from_str::<serde::de::IgnoredAny>(text);
    if json.as_ref().is_err_and(serde_too_deep) {
        // Deeper than serde_json goes: whether it is valid JSON is not known here.
        return;
    }
    let valid_json = json.is_ok();
    match (fast, slow) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "fields differ on {text:?}"),
        (Err(e), Err(_)) => assert_eq!(
            e.is_not_an_object(),
            valid_json,
            "wrong class for {text:?}: {e}"
        ),
        (Ok(_), Err(e)) if serde_leniency(&e) => {}
        (Ok(_), Err(e)) => panic!("fast accepted, serde rejected ({e}): {text:?}"),
        (Err(e), Ok(_)) => panic!("fast rejected ({e}), serde accepted: {text:?}"),
    }
}

/// A config: `Config::from_toml_str` never panics; an error lists at least one problem; a
/// config that loads has `memory_mb` within its documented 1..=4096 and builds an engine
/// that runs the sample events without panicking, keeps its window state within the
/// budget, and writes one valid JSON object per alert.
///
/// The engine is built with `memory_mb` clamped to [`CONFIG_MEMORY_MB`]: the tables are
/// sized linearly from the budget (so a small budget exercises the same sizing code), and
/// building a 4 GiB table set on every input would be slow and trip libFuzzer's default
/// 2 GiB malloc/RSS limits on an allocation that validation allows by design. The
/// full-size path is `tests/memory.rs`'s job.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut cfg = match Config::from_toml_str(text) {
        Ok(cfg) => cfg,
        Err(e) => {
            assert!(!e.problems.is_empty(), "an error without problems");
            let _ = e.to_string();
            return;
        }
    };
    assert!(
        (1..=4096).contains(&cfg.state.memory_mb),
        "memory_mb {} accepted",
        cfg.state.memory_mb
    );
    cfg.state.memory_mb = cfg.state.memory_mb.min(CONFIG_MEMORY_MB);
    let format = if data.len() % 2 == 0 {
        Format::Ecs
    } else {
        Format::Ocsf
    };
    let opts = Options {
        format,
        ..Options::default()
    };
    let mut engine = Engine::new(&cfg, opts);
    let budget = cfg.state.memory_mb << 20;
    let bytes = engine.window_stats().bytes as u64;
    assert!(
        bytes <= budget,
        "window state of {bytes} bytes over the budget of {budget}"
    );
    let (mut out, mut diags) = (Vec::new(), Vec::new());
    engine.feed(SAMPLE.as_bytes(), &mut out, &mut diags);
    engine.finish(&mut out, &mut diags);
    let _ = engine.stats_json();
    let alerts = json_lines(&out, "alert");
    assert_eq!(alerts as u64, engine.stats().total_alerts());
}

/// Every line of `out` is a JSON object; returns how many lines there are.
fn json_lines(out: &[u8], what: &str) -> usize {
    if out.is_empty() {
        return 0;
    }
    assert_eq!(
        out.last(),
        Some(&b'\n'),
        "output does not end with a newline"
    );
    let mut n = 0;
    for line in out[..out.len() - 1].split(|&b| b == b'\n') {
        match serde_json::from_slice::<serde_json::Value>(line) {
            Ok(v) => assert!(v.is_object(), "{what} is not an object: {}", show(line)),
            Err(e) => panic!("{what} is not JSON ({e}): {}", show(line)),
        }
        n += 1;
    }
    n
}

fn show(b: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(b))
}

/// The input lines as the engine sees them: split at `\n`, without a trailing CR and BOM.
fn input_lines(input: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    if input.last() == Some(&b'\n') || input.is_empty() {
        lines.pop();
    }
    lines
        .into_iter()
        .map(|l| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            l.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(l)
        })
        .collect()
}

/// Whether the engine may read the line as a JSON array (it looks at the first byte after
/// spaces and tabs; this errs on the side of "yes" for lines it rejects earlier).
fn array_line(line: &[u8]) -> bool {
    line.iter().find(|&&b| b != b' ' && b != b'\t') == Some(&b'[')
}

/// The engine on a stream. The first byte picks the options (bits 0-1: emit alerts, all,
/// embedded; bit 2: OCSF; bits 3-4: `max_line_bytes` 4096, 256, 64 or 16, so the long-line
/// paths are reached by short inputs), the second seeds the chunk sizes, the rest is the
/// input. Checks:
/// - no panic;
/// - the output, diagnostics and stats do not depend on how the input is cut into chunks
///   (the whole input in one `feed` against the chunked feeding);
/// - `stats().lines` is the number of lines (newlines, plus one for a final line without);
/// - every diagnostic's line number is within 1..=lines, the diagnostics agree with the
///   counters (`by_code`, `rejected`), and a line is rejected at most once, except that
///   each element of a JSON array line that is not an object is (`not_an_object`);
/// - without array lines, every line is either one event or one rejection;
/// - output: alerts mode writes one JSON object per alert; in all / embedded mode every
///   output line is a JSON object, or a rejected input line passed through verbatim, or an
///   event passed through with a deliberate decoder leniency (lone surrogate, number
///   beyond f64) that serde_json refuses.
pub fn engine(data: &[u8]) {
    let [mode, seed, input @ ..] = data else {
        return;
    };
    let emit = match mode & 3 {
        1 => Emit::All,
        2 => Emit::Embedded,
        _ => Emit::Alerts,
    };
    let format = if mode & 4 != 0 {
        Format::Ocsf
    } else {
        Format::Ecs
    };
    let max_line_bytes = [4096, 256, 64, 16][usize::from(mode >> 3 & 3)];
    let opts = Options {
        format,
        emit,
        max_line_bytes,
        // Keeping rejected lines (`--errors`) must not change anything else.
        keep_rejected: mode & 0x40 != 0,
        ..Options::default()
    };
    // The default rules and thresholds with the window budget at its minimum, 1 MiB: the
    // tables are sized linearly from it, and building the default 32 MiB of tables (twice
    // per input) held the target to ~500 runs/s under ASan; small tables also evict sooner.
    let mut cfg = Config::default();
    cfg.state.memory_mb = 1;

    let run = |chunks: &mut dyn Iterator<Item = &[u8]>| {
        let mut engine = Engine::new(&cfg, opts);
        let (mut out, mut diags) = (Vec::new(), Vec::new());
        for c in chunks {
            engine.feed(c, &mut out, &mut diags);
        }
        engine.finish(&mut out, &mut diags);
        (out, diags, engine.stats().clone())
    };
    let (out, diags, stats) = run(&mut std::iter::once(input));
    let mut state = u32::from(*seed) | 1;
    let mut rest = input;
    let mut chunked = std::iter::from_fn(|| {
        if rest.is_empty() {
            return None;
        }
        // xorshift32: chunk sizes 1..=4*seed+1, mostly small
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = (state as usize % (4 * usize::from(*seed) + 1) + 1).min(rest.len());
        let (c, r) = rest.split_at(n);
        rest = r;
        Some(c)
    });
    let (out2, diags2, stats2) = run(&mut chunked);
    assert_eq!(diags, diags2, "diagnostics depend on chunking");
    assert_eq!(stats, stats2, "stats depend on chunking");
    assert!(out == out2, "output depends on chunking");

    let lines = input_lines(input);
    let n = lines.len() as u64;
    assert_eq!(stats.lines, n, "line count");
    check_diags(&diags, &lines, &stats);
    if !lines.iter().any(|l| array_line(l)) {
        assert_eq!(
            stats.events + stats.rejected,
            n,
            "events + rejected != lines"
        );
    }

    match emit {
        Emit::Alerts => {
            assert_eq!(json_lines(&out, "alert") as u64, stats.total_alerts());
        }
        Emit::All | Emit::Embedded => {
            if out.is_empty() {
                return;
            }
            assert_eq!(
                out.last(),
                Some(&b'\n'),
                "output does not end with a newline"
            );
            for line in out[..out.len() - 1].split(|&b| b == b'\n') {
                // Empty lines are rejected and never passed through.
                assert!(!line.is_empty(), "an empty output line");
                match serde_json::from_slice::<serde_json::Value>(line) {
                    Ok(v) if v.is_object() => {
                        if emit == Emit::Embedded {
                            // Every object written is an event with its alerts inside (a
                            // rejected line passed through may be any object).
                            let tagged = v.get("jcdetect").is_some_and(|j| j["alerts"].is_array());
                            assert!(tagged || lines.contains(&line), "{}", show(line));
                        }
                    }
                    Ok(_) => assert!(
                        lines.contains(&line) || true_element(line, &lines),
                        "a non-object not passed through: {}",
                        show(line)
                    ),
                    // A leniency (an event, or an array element rejected on its own).
                    Err(e) => assert!(
                        lines.contains(&line)
                            || (serde_leniency(&e)
                                && (line.starts_with(b"{") || true_element(line, &lines))),
                        "output line is not JSON ({e}) nor a rejected line: {}",
                        show(line)
                    ),
                }
            }
        }
    }
}

/// A non-object output line in all / embedded mode must be an element of an array line
/// (rejected as `not_an_object` and passed through on its own).
fn true_element(line: &[u8], lines: &[&[u8]]) -> bool {
    lines
        .iter()
        .any(|l| array_line(l) && l.windows(line.len().max(1)).any(|w| w == line))
}

fn check_diags(diags: &[Diagnostic], lines: &[&[u8]], stats: &jcdetect::Stats) {
    let n = lines.len() as u64;
    let mut by_code = [0u64; Code::ALL.len()];
    let mut rejected = 0u64;
    let mut rejects_on: std::collections::BTreeMap<u64, Vec<Code>> = Default::default();
    for d in diags {
        assert!(
            (1..=n).contains(&d.line),
            "diagnostic on line {} of {n}: {d}",
            d.line
        );
        let i = Code::ALL.iter().position(|&c| c == d.code).unwrap();
        by_code[i] += 1;
        if d.code.rejects_line() {
            rejected += 1;
            rejects_on.entry(d.line).or_default().push(d.code);
        }
    }
    assert_eq!(by_code, stats.by_code, "diagnostics vs by_code");
    assert_eq!(rejected, stats.rejected, "diagnostics vs rejected");
    for (line, codes) in rejects_on {
        if codes.len() > 1 {
            let l = lines[line as usize - 1];
            // Only elements are rejected one by one: those of an array line, or of an array
            // inside a Fluent Bit `{"log": "[…]"}` record.
            let element = |c: &Code| matches!(c, Code::NotAnObject | Code::NotADiEvent);
            assert!(
                (array_line(l) || l.windows(6).any(|w| w == b"\"log\":"))
                    && codes.iter().all(element),
                "line {line} rejected {} times: {codes:?}",
                codes.len()
            );
        }
    }
}

/// A state file (`--state`, `Engine::restore`) is hostile input too. The bytes are tried as
/// they are and resealed with a valid checksum (so the fuzzer reaches the contents checks
/// past the checksum). Invariants: no panic; a refused state leaves the engine exactly as
/// fresh; a loaded one is usable (the example stream runs through it) and saves again
/// without panicking.
pub fn state(data: &[u8]) {
    // A small budget: the tables are sized from it, and the shapes must match to load.
    let cfg = Config::from_toml_str("[state]\nmemory_mb = 4\n").expect("config");
    let fresh = Engine::new(&cfg, Options::default()).snapshot();
    let payload = data.get(28..).unwrap_or_default();
    for bytes in [data.to_vec(), jcdetect::state::seal(payload)] {
        let mut engine = Engine::new(&cfg, Options::default());
        match engine.restore(&bytes) {
            Err(_) => assert!(
                engine.snapshot() == fresh,
                "a refused state changed the engine"
            ),
            Ok(r) => {
                assert!(r.keys <= 4 << 20, "more keys than the tables hold");
                let (mut out, mut diags) = (Vec::new(), Vec::new());
                engine.feed(SAMPLE.as_bytes(), &mut out, &mut diags);
                engine.finish(&mut out, &mut diags);
                json_lines(&out, "alerts after a restored state");
                let _ = engine.snapshot();
            }
        }
    }
}
