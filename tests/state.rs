//! The window-state snapshot (`Engine::snapshot` / `Engine::restore`, `src/state.rs`):
//! a stream cut by restarts must raise exactly the alerts of the uncut stream, and a
//! damaged, foreign or incompatible state file must be refused without panicking and
//! without changing the engine.

use jcdetect::replay::{generate, AttackMix, GenConfig};
use jcdetect::state::{seal, StateError};
use jcdetect::{Config, Engine, Options};

fn replay(events: u64, seed: u64) -> Vec<Vec<u8>> {
    let cfg = GenConfig {
        events,
        seed,
        users: 300,
        admins: 10,
        attacks: AttackMix::each(2),
        ..GenConfig::default()
    };
    let mut lines = Vec::new();
    generate(&cfg, |l| lines.push(l.to_vec())).expect("valid generator config");
    lines
}

fn config(text: &str) -> Config {
    Config::from_toml_str(text).expect("valid config")
}

/// An engine that has processed `lines`.
fn fed(cfg: &Config, lines: &[Vec<u8>]) -> Engine {
    let mut e = Engine::new(cfg, Options::default());
    let (mut out, mut diags) = (Vec::new(), Vec::new());
    for l in lines {
        e.process_line(l, &mut out, &mut diags);
    }
    e
}

/// Alerts of `lines` through one engine per segment (cut before each index in `cuts`),
/// each restarted from the previous one's snapshot.
fn run_with_restarts(cfg: &Config, lines: &[Vec<u8>], cuts: &[usize]) -> Vec<u8> {
    let (mut out, mut diags) = (Vec::new(), Vec::new());
    let mut state: Option<Vec<u8>> = None;
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(lines.len());
    for seg in bounds.windows(2) {
        let mut engine = Engine::new(cfg, Options::default());
        if let Some(s) = &state {
            engine.restore(s).expect("own snapshot loads");
        }
        for line in &lines[seg[0]..seg[1]] {
            engine.process_line(line, &mut out, &mut diags);
        }
        engine.finish(&mut out, &mut diags);
        state = Some(engine.snapshot());
    }
    assert!(diags.is_empty(), "{diags:?}");
    out
}

#[test]
fn restarts_mid_attack_change_no_alert() {
    let lines = replay(20_000, 7);
    let cfg = Config::default();
    let whole = run_with_restarts(&cfg, &lines, &[]);
    let stateful = String::from_utf8_lossy(&whole)
        .matches("\"group_key\"")
        .count();
    assert!(
        stateful >= 10,
        "the replay raises stateful alerts ({stateful})"
    );
    // Cuts every few hundred events land inside attack stories (each spans many events).
    let many: Vec<usize> = (1..40).map(|i| i * 500).collect();
    for cuts in [vec![10_000], vec![3_333, 6_666, 9_999, 13_332], many] {
        let cut = run_with_restarts(&cfg, &lines, &cuts);
        assert!(cut == whole, "alerts differ with restarts at {cuts:?}");
    }
}

#[test]
fn snapshot_of_a_restored_engine_is_the_same_bytes() {
    let lines = replay(5_000, 3);
    let cfg = Config::default();
    let a = fed(&cfg, &lines);
    let snap = a.snapshot();
    let mut b = Engine::new(&cfg, Options::default());
    let loaded = b.restore(&snap).expect("loads");
    assert!(loaded.keys > 100, "{loaded:?}");
    assert!(loaded.watermark.is_some());
    assert!(b.snapshot() == snap);
}

/// A fresh engine's snapshot, to check that a refused file left the engine untouched.
fn fresh(cfg: &Config) -> Vec<u8> {
    Engine::new(cfg, Options::default()).snapshot()
}

#[test]
fn damaged_files_are_refused_and_change_nothing() {
    let lines = replay(3_000, 5);
    let cfg = Config::default();
    let a = fed(&cfg, &lines);
    let snap = a.snapshot();
    let empty = fresh(&cfg);
    let check = |bytes: &[u8], what: &str| {
        let mut e = Engine::new(&cfg, Options::default());
        let r = e.restore(bytes);
        assert!(r.is_err(), "{what}: loaded");
        assert!(e.snapshot() == empty, "{what}: engine changed after {r:?}");
        r.unwrap_err()
    };
    // Every truncation (a stride through the file, and the last bytes one by one).
    let n = snap.len();
    for cut in (0..n).step_by(n / 97 + 1).chain(n.saturating_sub(64)..n) {
        check(&snap[..cut], &format!("truncated to {cut}"));
    }
    // Single bit flips anywhere: the checksum (or the header checks) catch them.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..300 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut bad = snap.clone();
        bad[(x % n as u64) as usize] ^= 1 << (x >> 61);
        check(&bad, "bit flip");
    }
    // A refused file leaves an engine that already holds state exactly as it was, too.
    let mut loaded = Engine::new(&cfg, Options::default());
    loaded.restore(&snap).expect("loads");
    let mut bad = snap.clone();
    bad[n / 2] ^= 0x40;
    assert!(loaded.restore(&bad).is_err());
    assert!(loaded.restore(&snap[..n - 3]).is_err());
    assert!(
        loaded.snapshot() == snap,
        "a refused file changed a loaded engine"
    );
    assert_eq!(check(b"", "empty"), StateError::NotAStateFile);
    assert_eq!(
        check(b"{\"not\":\"state\"}\n", "json"),
        StateError::NotAStateFile
    );
}

#[test]
fn garbage_with_a_valid_checksum_is_refused_without_panicking() {
    // A crafted (or buggy) file passes the checksum: the contents are still checked.
    let lines = replay(2_000, 9);
    let cfg = Config::default();
    let a = fed(&cfg, &lines);
    let snap = a.snapshot();
    let payload = &snap[28..];
    let empty = fresh(&cfg);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut refused = 0;
    for round in 0..400 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut p = payload.to_vec();
        let at = (x % p.len() as u64) as usize;
        p[at] = (x >> 56) as u8;
        if round % 4 == 0 {
            p.truncate(at);
        }
        let mut e = Engine::new(&cfg, Options::default());
        match e.restore(&seal(&p)) {
            Ok(_) => {}
            Err(_) => {
                refused += 1;
                assert!(e.snapshot() == empty, "engine changed on a refused file");
            }
        }
    }
    assert!(
        refused > 50,
        "only {refused} of 400 damaged payloads refused"
    );
}

#[test]
fn a_state_from_another_configuration_is_refused() {
    let snap = fed(&Config::default(), &replay(1_000, 1)).snapshot();
    for (text, want) in [
        ("[state]\nmemory_mb = 64\n", "memory_mb"),
        (
            "[rules.password_spray_from_ip]\nthreshold = 40\n",
            "threshold",
        ),
        (
            "[rules.impossible_travel]\nenabled = false\n",
            "enabled rules",
        ),
    ] {
        let cfg = config(text);
        let mut e = Engine::new(&cfg, Options::default());
        match e.restore(&snap) {
            Err(StateError::Incompatible(why)) => assert!(why.contains(want), "{text}: {why}"),
            other => panic!("{text}: {other:?}"),
        }
        assert!(e.snapshot() == fresh(&cfg));
    }
    // Settings that do not size the tables keep the state usable.
    let cfg = config("[rules.password_spray_from_ip]\nseverity = \"critical\"\n");
    assert!(Engine::new(&cfg, Options::default()).restore(&snap).is_ok());
}
