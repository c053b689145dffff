//! `--errors FILE` (`src/cli/dead_letter.rs`), run through the binary: one record per rejected line,
//! byte-exact; alerts unchanged; write failures reported with exit 1; refused with --wasm.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_jcdetect");

fn temp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("jcdetect-dl-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn jcdetect");
    let mut w = child.stdin.take().unwrap();
    w.write_all(stdin).unwrap();
    drop(w);
    child.wait_with_output().unwrap()
}

/// Every kind of rejected line, between events that raise alerts; (line, code, raw bytes).
/// (line number, code, raw bytes) of a record.
type Want = (u64, &'static str, Vec<u8>);

fn stream() -> (Vec<u8>, Vec<Want>) {
    let good = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/single_event_demo.ndjson"),
    )
    .unwrap();
    let good: Vec<&[u8]> = good
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let long = [b"{\"x\":\"".as_slice(), &[b'z'; 3000], b"\"}"].concat();
    let bad: Vec<(&'static str, Vec<u8>)> = vec![
        // Repaired (U+FFFD) and decoded, then rejected as not a DI event: the dead letter
        // still holds the bytes as they came.
        ("not_a_di_event", b"{\"a\":\"\xff\xc0\xaf\"}".to_vec()),
        ("invalid_json", b"{\"a\":\"nul\x00here\"}".to_vec()),
        ("invalid_json", b"not json\r".to_vec()),
        (
            "not_a_di_event",
            br#"{"message":"x","host":"h","timestamp":"2024-03-12T09:00:00Z"}"#.to_vec(),
        ),
        ("line_too_long", long.clone()),
        ("empty_line", b"".to_vec()),
        ("empty_line", b" \t \r".to_vec()),
        ("not_an_object", b"42".to_vec()),
        ("invalid_json", b"\xef\xbb\xbf{broken\ttab".to_vec()),
    ];
    let (mut data, mut want) = (Vec::new(), Vec::new());
    let mut line = 0;
    for (i, g) in good.iter().enumerate() {
        data.extend_from_slice(g);
        data.push(b'\n');
        line += 1;
        if let Some((code, raw)) = bad.get(i) {
            data.extend_from_slice(raw);
            data.push(b'\n');
            line += 1;
            want.push((line, *code, raw.clone()));
        }
    }
    // An array with a good event and a bad element: the element's text is the record.
    let arr = [b"[".as_slice(), good[0], b", \"not an event\"]"].concat();
    data.extend_from_slice(&arr);
    data.push(b'\n');
    line += 1;
    want.push((line, "not_an_object", b"\"not an event\"".to_vec()));
    // A last line without a newline.
    data.extend_from_slice(b"{oops");
    want.push((line + 1, "invalid_json", b"{oops".to_vec()));
    assert!(good.len() > bad.len());
    (data, want)
}

fn records(file: &[u8]) -> Vec<Vec<&[u8]>> {
    assert!(file.ends_with(b"\n"), "records end with a newline");
    file[..file.len() - 1]
        .split(|&b| b == b'\n')
        .map(|r| r.splitn(5, |&b| b == b'\t').collect())
        .collect()
}

#[test]
fn errors_file_holds_every_rejected_line_verbatim() {
    let (data, want) = stream();
    let errors = temp("errors.tsv");
    let e = errors.to_str().unwrap();
    let plain = run(&["--max-line-bytes", "2000", "-"], &data);
    let with = run(&["--max-line-bytes", "2000", "--errors", e, "-"], &data);
    assert_eq!(
        with.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    assert!(!plain.stdout.is_empty(), "the stream raises alerts");
    assert_eq!(
        with.stdout, plain.stdout,
        "alerts are the same with --errors"
    );
    assert_eq!(
        with.stderr, plain.stderr,
        "diagnostics are the same with --errors"
    );
    let file = std::fs::read(&errors).unwrap();
    let recs = records(&file);
    assert_eq!(recs.len(), want.len(), "{}", String::from_utf8_lossy(&file));
    for (r, (line, code, raw)) in recs.iter().zip(&want) {
        assert_eq!(r.len(), 5, "{}", String::from_utf8_lossy(&r.concat()));
        assert_eq!(r[0], b"<stdin>");
        assert_eq!(r[1], line.to_string().as_bytes());
        assert_eq!(r[2], code.as_bytes(), "line {line}");
        assert!(!r[3].is_empty() && !r[3].contains(&b'\t'));
        assert_eq!(r[4], &raw[..], "line {line}: bytes verbatim");
    }
    // Appends, and `cut -f5-` gives the lines back.
    let again = run(&["--max-line-bytes", "2000", "--errors", e, "-"], &data);
    assert_eq!(again.status.code(), Some(0));
    let file = std::fs::read(&errors).unwrap();
    assert_eq!(records(&file).len(), 2 * want.len(), "appended");
    let _ = std::fs::remove_file(&errors);
}

#[test]
fn over_long_lines_keep_a_bounded_prefix() {
    let errors = temp("long.tsv");
    let mut data = b"{\"x\":\"".to_vec();
    data.extend(std::iter::repeat_n(b'q', 3 << 20));
    data.extend_from_slice(b"\"}\n\xff\n");
    let out = run(
        &[
            "-q",
            "--max-line-bytes",
            "1000000",
            "--errors",
            errors.to_str().unwrap(),
        ],
        &data,
    );
    assert_eq!(out.status.code(), Some(0));
    let file = std::fs::read(&errors).unwrap();
    let recs = records(&file);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0][2], b"line_too_long");
    let reason = String::from_utf8_lossy(recs[0][3]);
    assert!(
        reason.contains("truncated: only the first 65536 of 3145736 bytes"),
        "{reason}"
    );
    assert_eq!(recs[0][4], &data[..65536]);
    assert_eq!(
        (recs[1][1], recs[1][2], recs[1][4]),
        (&b"2"[..], &b"invalid_json"[..], &b"\xff"[..])
    );
    let _ = std::fs::remove_file(&errors);
}

#[test]
fn errors_to_a_full_disk_is_reported_and_exit_1() {
    let (data, _) = stream();
    let plain = run(&["-q", "--max-line-bytes", "2000"], &data);
    let full = run(
        &["-q", "--max-line-bytes", "2000", "--errors", "/dev/full"],
        &data,
    );
    let stderr = String::from_utf8_lossy(&full.stderr);
    assert_eq!(full.status.code(), Some(1), "{stderr}");
    assert_eq!(full.stdout, plain.stdout, "alerts still complete");
    assert_eq!(
        stderr.matches("cannot write --errors /dev/full").count(),
        1,
        "reported once: {stderr}"
    );
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(
        stderr.contains("rejected lines from line 2 of <stdin> on are not saved"),
        "{stderr}"
    );
    let stats = run(&["-q", "--stats-json", "/dev/full"], &data);
    let stderr = String::from_utf8_lossy(&stats.stderr);
    assert_eq!(stats.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot write --stats-json /dev/full"),
        "{stderr}"
    );
}

#[test]
fn errors_is_refused_with_wasm_and_needs_a_file() {
    let out = run(&["--errors", "/tmp/x", "--wasm", "m.wasm"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--errors needs the native engine"));
    let out = run(&["--errors"], b"");
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["--errors", "/nonexistent-dir/x.tsv"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open --errors"));
}
