//! `Emit::Embedded`: one output line per input event, its alerts inside the `jcdetect`
//! object, checked against `Emit::All` (the same events and alerts, alerts on lines of
//! their own).

use jcdetect::{Config, Emit, Engine, Options};
use serde_json::Value;

fn run(emit: Emit, input: &[u8]) -> Vec<Value> {
    let opts = Options {
        emit,
        ..Options::default()
    };
    let mut engine = Engine::new(&Config::default(), opts);
    let (mut out, mut diags) = (Vec::new(), Vec::new());
    engine.feed(input, &mut out, &mut diags);
    engine.finish(&mut out, &mut diags);
    out.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("every output line is JSON"))
        .collect()
}

fn example() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/example.ndjson"
    ))
    .unwrap()
}

#[test]
fn embedded_carries_the_alerts_that_emit_all_writes_after_each_event() {
    let input = example();
    let all = run(Emit::All, &input);
    let embedded = run(Emit::Embedded, &input);
    // Regroup `--emit all`: each tagged event followed by its alerts.
    let mut expected: Vec<Value> = Vec::new();
    for v in all {
        // Alerts have a `jcdetect` object too, but no `rules` in it.
        if v["jcdetect"].get("rules").is_some() {
            let mut v = v;
            v["jcdetect"]["alerts"] = Value::Array(Vec::new());
            expected.push(v);
        } else {
            let last = expected.last_mut().expect("an alert follows its event");
            last["jcdetect"]["alerts"].as_array_mut().unwrap().push(v);
        }
    }
    assert_eq!(embedded.len(), expected.len(), "one line per event");
    assert_eq!(embedded, expected);
    let fired: usize = embedded
        .iter()
        .map(|v| v["jcdetect"]["alerts"].as_array().unwrap().len())
        .sum();
    assert!(fired > 0, "the example raises alerts");
    for v in &embedded {
        let j = &v["jcdetect"];
        let rules: Vec<&str> = j["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        let alert_rules: Vec<&str> = j["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["rule"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            rules, alert_rules,
            "`rules` lists the embedded alerts in order"
        );
    }
}

#[test]
fn embedded_keeps_the_event_bytes_and_passes_rejected_lines_through() {
    let event = r#"{"id":"1","event_type":"policy_delete","service":"directory","timestamp":"2024-05-01T10:00:00Z"}"#;
    let opts = Options {
        emit: Emit::Embedded,
        ..Options::default()
    };
    let mut engine = Engine::new(&Config::default(), opts);
    let (mut out, mut diags) = (Vec::new(), Vec::new());
    engine.process_record(event.as_bytes(), None, &mut out, &mut diags);
    let line = std::str::from_utf8(&out).unwrap();
    assert_eq!(line.matches('\n').count(), 1);
    let prefix = &event[..event.len() - 1];
    assert!(
        line.starts_with(prefix),
        "the event is copied, not re-encoded: {line}"
    );
    assert!(line.contains(r#","jcdetect":{"category":"#));
    assert!(line.contains(r#""rules":["policy_deleted"],"alerts":[{"#));

    out.clear();
    engine.process_record(b"{not json", None, &mut out, &mut diags);
    assert_eq!(out, b"{not json\n");
    assert_eq!(diags.last().unwrap().code, jcdetect::Code::InvalidJson);
}

#[test]
fn a_host_time_stamps_alerts_and_is_the_event_time_only_when_asked() {
    let event = r#"{"id":"1","event_type":"policy_delete","service":"directory"}"#;
    let t = 1_714_557_600_123_000_000; // 2024-05-01T10:00:00.123Z
    for as_event_time in [false, true] {
        let opts = Options {
            emit: Emit::Embedded,
            host_time_is_event_time: as_event_time,
            ..Options::default()
        };
        let mut engine = Engine::new(&Config::default(), opts);
        let (mut out, mut diags) = (Vec::new(), Vec::new());
        engine.process_record(event.as_bytes(), Some(t), &mut out, &mut diags);
        engine.process_record(event.as_bytes(), Some(t + 10), &mut out, &mut diags);
        let first = out.split(|&b| b == b'\n').next().unwrap();
        let v: Value = serde_json::from_slice(first).unwrap();
        let ts = v["jcdetect"]["alerts"][0]["@timestamp"].as_str().unwrap();
        assert!(ts.starts_with("2024-05-01T10:00:00.123"), "{ts}");
        if as_event_time {
            assert!(diags.is_empty(), "{diags:?}");
            assert_eq!(
                engine.watermark(),
                Some(t + 10),
                "host times move the clock"
            );
        } else {
            // An ingestion time must not move the clock: the events are out of the windows.
            assert_eq!(diags.len(), 2, "{diags:?}");
            assert!(diags
                .iter()
                .all(|d| d.code == jcdetect::Code::MissingTimestamp));
            assert_eq!(engine.watermark(), None);
        }
    }
}
