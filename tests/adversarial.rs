//! The committed adversarial corpus (`tests/data/adversarial/corpus.tsv`, written by
//! `make_corpus.py` next to it, which says what each case is) plus generated huge cases (a
//! 10 MB line under `max_line_bytes`, a 10 MiB one over it, 100 000-deep nesting at top level
//! and inside fields, a year-2250 failed login from a password-spray story's own ip),
//! interleaved into a generated replay that raises stateful alerts: first one bad line after
//! each good one, then the corpus again in bursts (at most one far-future line per burst,
//! since by design a second far-ahead event right after the first confirms its jump).
//!
//! What is compared, clean replay against mixed stream, both fed to [`Engine::feed`] in odd
//! chunk sizes (1, 2, 3, 5 bytes ... 3 MiB, cycling):
//! - no panic;
//! - diagnostics: exactly the corpus' expected codes, each at its line number in the mixed
//!   stream, once (the clean replay has none); rejected lines carry their bytes verbatim
//!   (`Options::keep_rejected`; a `line_too_long` one its first 64 KiB);
//! - stats: `events` = clean events + the events the corpus says its lines decode to;
//!   `late_events` equal (no bad line makes good events late); `future_events` = clean + the
//!   corpus lines expecting `future_timestamp`; `lines` = every line of the mixed stream;
//! - alerts: the mixed stream's alert lines, minus those whose `jcdetect.di_event_ids` is
//!   empty or names an `adv-` id (the corpus' decodable lines), are byte-identical, in order,
//!   to the clean replay's alerts (none of which is removed by that filter, and which include
//!   stateful ones);
//! - the same run with `keep_rejected` off gives the same output and diagnostics;
//! - the CLI binary once on the mixed stream with `--errors`: stdout identical to the
//!   library's output, and FILE holds one record per rejected line with its line number,
//!   code and bytes.

use jcdetect::replay::{generate, AttackMix, GenConfig};
use jcdetect::{Code, Config, Diagnostic, Engine, Options};
use std::path::{Path, PathBuf};

const MAX_LINE: usize = 10_000_000;

struct Case {
    codes: Vec<Code>,
    events: u64,
    name: String,
    /// The line, `{{TS}}` not yet replaced.
    raw: Vec<u8>,
}

impl Case {
    fn new(codes: &str, events: u64, name: &str, raw: Vec<u8>) -> Case {
        let codes = if codes == "-" {
            Vec::new()
        } else {
            codes
                .split(',')
                .map(|c| {
                    *Code::ALL
                        .iter()
                        .find(|k| k.as_str() == c)
                        .unwrap_or_else(|| panic!("unknown code `{c}` in the corpus ({name})"))
                })
                .collect()
        };
        Case {
            codes,
            events,
            name: name.to_string(),
            raw,
        }
    }
    fn is_future(&self) -> bool {
        self.codes.contains(&Code::FutureTimestamp)
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn corpus() -> Vec<Case> {
    let path = root().join("tests/data/adversarial/corpus.tsv");
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut cases = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let mut f = line.splitn(4, |&b| b == b'\t');
        let (codes, events, name, raw) = (
            f.next().unwrap(),
            f.next().expect("EVENTS"),
            f.next().expect("NAME"),
            f.next().expect("RAW"),
        );
        let s = |b: &[u8]| {
            std::str::from_utf8(b)
                .expect("corpus metadata is UTF-8")
                .to_string()
        };
        cases.push(Case::new(
            &s(codes),
            s(events).parse().expect("EVENTS is a number"),
            &s(name),
            raw.to_vec(),
        ));
    }
    assert!(cases.len() > 100, "corpus has {} cases", cases.len());
    cases
}

/// The huge cases, made here rather than committed.
fn generated() -> Vec<Case> {
    let deep = 100_000;
    let arrays = || format!("{}{}", "[".repeat(deep), "]".repeat(deep));
    let objects = || format!("{}1{}", r#"{"a":"#.repeat(deep), "}".repeat(deep));
    let probe = |id: &str, extra: &str| {
        format!(
            r#"{{"id":"adv-{id}","event_type":"adversarial_probe","timestamp":"{{{{TS}}}}",{extra}}}"#
        )
    };
    let under = probe("big-under", r#""pad":"PAD""#).replace("PAD", &"x".repeat(9_999_000));
    let over = probe("big-over", r#""pad":"PAD""#).replace("PAD", &"y".repeat(10 << 20));
    assert!(under.len() <= MAX_LINE && over.len() > MAX_LINE);
    vec![
        Case::new("-", 1, "a 10 MB event under the limit", under.into_bytes()),
        Case::new(
            "line_too_long",
            0,
            "a 10 MiB event over the limit",
            over.into_bytes(),
        ),
        Case::new(
            "not_an_object",
            0,
            "top-level arrays 100 000 deep (one array element)",
            arrays().into_bytes(),
        ),
        Case::new(
            "not_a_di_event",
            0,
            "top-level objects 100 000 deep (an object with one unknown key: not a DI event)",
            objects().into_bytes(),
        ),
        Case::new(
            "-",
            1,
            "arrays 100 000 deep in an unknown field",
            probe("deep-a", &format!(r#""x":{}"#, arrays())).into_bytes(),
        ),
        Case::new(
            "-",
            1,
            "objects 100 000 deep in an unknown field",
            probe("deep-o", &format!(r#""x":{}"#, objects())).into_bytes(),
        ),
        Case::new(
            "wrong_field_type",
            1,
            "initiated_by as arrays 100 000 deep",
            probe("deep-k", &format!(r#""initiated_by":{}"#, arrays())).into_bytes(),
        ),
        Case::new(
            "-",
            1,
            "initiated_by with objects 100 000 deep inside",
            probe(
                "deep-ko",
                &format!(r#""initiated_by":{{"x":{}}}"#, objects()),
            )
            .into_bytes(),
        ),
    ]
}

fn timestamp_of(line: &[u8]) -> &[u8] {
    let key = b"\"timestamp\":\"";
    let i = line
        .windows(key.len())
        .position(|w| w == key)
        .expect("good line has a timestamp")
        + key.len();
    let n = line[i..].iter().position(|&b| b == b'"').unwrap();
    &line[i..i + n]
}

fn replace_ts(raw: &[u8], ts: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.windows(6).position(|w| w == b"{{TS}}") {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(ts);
        rest = &rest[i + 6..];
    }
    out.extend_from_slice(rest);
    out
}

#[derive(Clone, Copy)]
enum Src {
    Good(usize),
    Bad(usize),
}

struct Run {
    out: Vec<u8>,
    diags: Vec<Diagnostic>,
    stats: serde_json::Value,
}

fn opts(keep_rejected: bool) -> Options {
    Options {
        max_line_bytes: MAX_LINE,
        keep_rejected,
        ..Options::default()
    }
}

fn run(stream: &[u8], keep_rejected: bool, sizes: &[usize]) -> Run {
    let mut engine = Engine::new(&Config::default(), opts(keep_rejected));
    let (mut out, mut diags) = (Vec::new(), Vec::new());
    let mut rest = stream;
    for &n in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (head, tail) = rest.split_at(n.min(rest.len()));
        engine.feed(head, &mut out, &mut diags);
        rest = tail;
    }
    engine.finish(&mut out, &mut diags);
    Run {
        out,
        diags,
        stats: engine.stats_value(),
    }
}

/// Alert lines, without those raised by the corpus' own events.
fn good_alerts(out: &[u8]) -> (Vec<&[u8]>, usize) {
    let (mut kept, mut removed) = (Vec::new(), 0);
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).expect("alert is JSON");
        let ids = v["jcdetect"]["di_event_ids"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let from_corpus = ids.is_empty()
            || ids
                .iter()
                .any(|i| i.as_str().is_some_and(|s| s.starts_with("adv-")));
        if from_corpus {
            removed += 1;
        } else {
            kept.push(line);
        }
    }
    (kept, removed)
}

#[test]
fn adversarial_corpus_does_not_disturb_a_replay() {
    // A replay with attack stories (and its ground truth, for a spray story's ip).
    let cfg = GenConfig {
        events: 30_000,
        users: 400,
        admins: 10,
        ips: 4_000,
        attacks: AttackMix::each(1),
        ..GenConfig::default()
    };
    let mut good: Vec<Vec<u8>> = Vec::new();
    let truth = generate(&cfg, |line| {
        good.push(line.strip_suffix(b"\n").unwrap_or(line).to_vec())
    })
    .expect("valid generator config");
    let spray_ip = truth
        .stateful
        .iter()
        .find(|a| a.rule == "password_spray_from_ip")
        .map(|a| a.group_key.clone())
        .expect("the replay has a password spray story");

    let mut cases = corpus();
    let generated = generated();
    let first_generated = cases.len();
    cases.extend(generated);
    // A failed login from the spray's ip, dated 2250 (in range, far ahead of the stream): it
    // must neither count in the spray window nor move the watermark.
    let story = cases.len();
    cases.push(Case::new(
        "future_timestamp",
        1,
        "year-2250 failed login from the spray story's ip",
        format!(
            r#"{{"id":"adv-story","event_type":"user_login_attempt","service":"sso","success":false,"client_ip":"{spray_ip}","initiated_by":{{"username":"adv-nobody"}},"timestamp":"2250-01-01T00:00:00Z"}}"#
        )
        .into_bytes(),
    ));

    // The layout: good lines in order, bad ones between them.
    let mut order = Vec::new();
    let mut g = 0;
    let push_good = |order: &mut Vec<Src>, g: &mut usize, n: usize| {
        for _ in 0..n {
            order.push(Src::Good(*g));
            *g += 1;
        }
    };
    push_good(&mut order, &mut g, 5);
    for i in 0..story {
        push_good(&mut order, &mut g, 1);
        order.push(Src::Bad(i));
    }
    // Bursts of up to 7 corpus lines (not the huge ones twice), one far-future line at most.
    let (future, other): (Vec<usize>, Vec<usize>) =
        (0..first_generated).partition(|&i| cases[i].is_future());
    let mut future = future.into_iter();
    for (k, burst) in other.chunks(7).enumerate() {
        push_good(&mut order, &mut g, 1 + k % 3);
        order.extend(burst.iter().map(|&i| Src::Bad(i)));
        if let Some(f) = future.next() {
            order.push(Src::Bad(f));
        }
    }
    for f in future {
        push_good(&mut order, &mut g, 1);
        order.push(Src::Bad(f));
    }
    let left = good.len() - g;
    push_good(&mut order, &mut g, left);
    // The story line right after the first good event from the spray ip.
    let needle = format!(r#""client_ip":"{spray_ip}""#);
    let at = order
        .iter()
        .position(|s| {
            matches!(s, Src::Good(j) if good[*j].windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
        .expect("a good event from the spray ip");
    order.insert(at + 1, Src::Bad(story));

    // The streams, with each bad line's bytes and expected diagnostics.
    let clean: Vec<u8> = good
        .iter()
        .flat_map(|l| l.iter().chain(b"\n"))
        .copied()
        .collect();
    let mut mixed = Vec::new();
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut expected: Vec<(u64, Code)> = Vec::new();
    let (mut bad_events, mut future_lines) = (0, 0);
    let mut ts: &[u8] = b"";
    for (n, s) in order.iter().enumerate() {
        let line = match *s {
            Src::Good(j) => {
                ts = timestamp_of(&good[j]);
                good[j].clone()
            }
            Src::Bad(i) => {
                let c = &cases[i];
                expected.extend(c.codes.iter().map(|&code| (n as u64 + 1, code)));
                bad_events += c.events;
                future_lines += u64::from(c.is_future());
                replace_ts(&c.raw, ts)
            }
        };
        mixed.extend_from_slice(&line);
        mixed.push(b'\n');
        lines.push(line);
    }

    let sizes = [1, 2, 3, 5, 8191, 65_537, 1 << 20, 3 << 20];
    let c = run(&clean, true, &sizes);
    let m = run(&mixed, true, &sizes);
    assert!(
        c.diags.is_empty(),
        "clean replay: {:?}",
        &c.diags[..c.diags.len().min(5)]
    );

    // Diagnostics: exactly the expected ones, in order, at their lines.
    let got: Vec<(u64, Code)> = m.diags.iter().map(|d| (d.line, d.code)).collect();
    if got != expected {
        let name = |line: u64| match order[line as usize - 1] {
            Src::Good(_) => "a good line".to_string(),
            Src::Bad(i) => cases[i].name.clone(),
        };
        let first = got
            .iter()
            .zip(&expected)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(expected.len()));
        panic!(
            "diagnostics differ from diagnostic {first} on: got {:?} ({}), expected {:?} ({}); \
             {} got, {} expected",
            got.get(first),
            got.get(first).map(|d| name(d.0)).unwrap_or_default(),
            expected.get(first),
            expected.get(first).map(|d| name(d.0)).unwrap_or_default(),
            got.len(),
            expected.len()
        );
    }
    // Rejected lines come back verbatim (an array's bad element: its text, inside the line).
    for d in &m.diags {
        let raw = d.raw.as_ref();
        if !d.code.rejects_line() {
            assert!(raw.is_none(), "{d}: a warning carries no line");
            continue;
        }
        let raw = raw.unwrap_or_else(|| panic!("{d}: no raw line"));
        let line = &lines[d.line as usize - 1];
        match d.code {
            Code::LineTooLong => {
                assert_eq!(raw.len, line.len(), "{d}");
                assert_eq!(raw.bytes, line[..64 << 10], "{d}");
            }
            Code::NotAnObject if line.starts_with(b"[") => {
                assert!(
                    line.windows(raw.bytes.len()).any(|w| w == raw.bytes),
                    "{d}: element not in its line"
                );
            }
            _ => assert_eq!(raw.bytes, *line, "{d}"),
        }
    }

    // Counters.
    let n = |r: &Run, k: &str| r.stats[k].as_u64().unwrap_or_else(|| panic!("stats.{k}"));
    assert_eq!(n(&m, "lines"), order.len() as u64);
    assert_eq!(n(&c, "events"), good.len() as u64);
    assert_eq!(n(&m, "events"), n(&c, "events") + bad_events);
    assert_eq!(
        n(&m, "late_events"),
        n(&c, "late_events"),
        "bad lines made good events late"
    );
    assert_eq!(
        n(&m, "future_events"),
        n(&c, "future_events") + future_lines
    );

    // Alerts.
    let (clean_alerts, removed) = good_alerts(&c.out);
    assert_eq!(
        removed, 0,
        "the clean replay raised an alert the filter would drop"
    );
    assert!(
        clean_alerts.iter().any(|a| {
            let v: serde_json::Value = serde_json::from_slice(a).unwrap();
            v["jcdetect"]["group_key"].is_string()
        }),
        "the clean replay raises stateful alerts"
    );
    let (mixed_alerts, _) = good_alerts(&m.out);
    if mixed_alerts != clean_alerts {
        let i = mixed_alerts
            .iter()
            .zip(&clean_alerts)
            .position(|(a, b)| a != b);
        panic!(
            "alerts differ ({} mixed, {} clean), first at {i:?}:\nmixed: {}\nclean: {}",
            mixed_alerts.len(),
            clean_alerts.len(),
            i.and_then(|i| mixed_alerts.get(i))
                .map(|a| String::from_utf8_lossy(a))
                .unwrap_or_default(),
            i.and_then(|i| clean_alerts.get(i))
                .map(|a| String::from_utf8_lossy(a))
                .unwrap_or_default(),
        );
    }

    // Without keep_rejected: the same, but no bytes.
    let plain = run(&mixed, false, &[7, 4093, 1 << 20]);
    assert!(
        plain.out == m.out,
        "output depends on keep_rejected or chunking"
    );
    let strip = |d: &Diagnostic| Diagnostic {
        raw: None,
        ..d.clone()
    };
    assert_eq!(plain.diags, m.diags.iter().map(strip).collect::<Vec<_>>());

    cli(&mixed, &m);
}

/// The binary with `--errors` on the mixed stream.
fn cli(mixed: &[u8], lib: &Run) {
    let dir = std::env::temp_dir();
    let id = std::process::id();
    let input = dir.join(format!("jcdetect-adv-{id}.ndjson"));
    let errors = dir.join(format!("jcdetect-adv-{id}.errors"));
    let _ = std::fs::remove_file(&errors);
    std::fs::write(&input, mixed).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jcdetect"))
        .args(["-q", "--max-line-bytes", &MAX_LINE.to_string(), "--errors"])
        .arg(&errors)
        .arg(&input)
        .output()
        .expect("run jcdetect");
    let records = std::fs::read(&errors).unwrap_or_default();
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&errors);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        out.stdout == lib.out,
        "CLI stdout differs from the library's output"
    );
    check_records(&records, &input, lib);
}

fn check_records(records: &[u8], input: &Path, lib: &Run) {
    let rejected: Vec<&Diagnostic> = lib.diags.iter().filter(|d| d.code.rejects_line()).collect();
    let recs: Vec<&[u8]> = records.split(|&b| b == b'\n').collect();
    assert_eq!(recs.last(), Some(&&b""[..]), "records end with a newline");
    assert_eq!(
        recs.len() - 1,
        rejected.len(),
        "one record per rejected line"
    );
    for (r, d) in recs.iter().zip(&rejected) {
        let f: Vec<&[u8]> = r.splitn(5, |&b| b == b'\t').collect();
        assert_eq!(f.len(), 5, "{d}");
        assert_eq!(f[0], input.to_str().unwrap().as_bytes(), "{d}");
        assert_eq!(f[1], d.line.to_string().as_bytes(), "{d}");
        assert_eq!(f[2], d.code.as_str().as_bytes(), "{d}");
        assert!(f[3].starts_with(d.detail.as_bytes()), "{d}");
        assert_eq!(f[4], d.raw.as_ref().unwrap().bytes, "{d}");
    }
}

/// Far-future lines where the corpus test does not put them: as the very first line of the
/// stream (nothing to judge it against yet), twice, and the same line twice in a row in the
/// middle (a retried delivery), in the example stream with its stateful alerts. Neither makes a good event late
/// nor changes an alert the good events raise.
#[test]
fn far_future_first_and_repeated_lines_change_no_alert() {
    let clean = std::fs::read(root().join("tests/data/example.ndjson")).unwrap();
    let lines: Vec<&[u8]> = clean.split_inclusive(|&b| b == b'\n').collect();
    let bad = |id: &str, ts: &str| {
        let mut v: serde_json::Value = serde_json::from_slice(lines[0]).unwrap();
        v["id"] = id.into();
        v["timestamp"] = ts.into();
        v["initiated_by"]["username"] = format!("{id}@example.invalid").into();
        format!("{v}\n").into_bytes()
    };
    // The first line twice: a retry at the very start must not set the watermark either.
    let mut mixed = bad("adv-first", "2261-12-31T23:59:59Z").repeat(2);
    for (i, l) in lines.iter().enumerate() {
        mixed.extend_from_slice(l);
        if i == lines.len() / 2 {
            let twice = bad("adv-twice", "2250-01-01T00:00:00Z");
            mixed.extend_from_slice(&twice);
            mixed.extend_from_slice(&twice);
        }
    }
    let (a, b) = (run(&clean, false, &[4096]), run(&mixed, false, &[4096]));
    let late = |r: &Run| r.stats["late_events"].as_u64().unwrap();
    assert_eq!(late(&b), late(&a), "good events made late");
    let (ga, _) = good_alerts(&a.out);
    let (gb, _) = good_alerts(&b.out);
    assert!(ga
        .iter()
        .any(|l| l.windows(11).any(|w| w == b"\"group_key\"")));
    assert!(ga == gb, "alerts changed by far-future lines");
}
