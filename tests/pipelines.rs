//! `pipeline-configs/`: the deployment layout `install.sh` makes. Every file parses and says
//! where it is installed, what it does and how to run it; the configs name only paths of the
//! documented layout; `install.sh --prefix` installs every file they name and relocates every
//! path; the Fluent Bit and Vector configs are wired up; and the jcdetect command lines of the
//! installed configs, and `run.sh` with stand-in Fluent Bit / Vector programs, produce exactly
//! the plain filter's alerts. The DI API patterns' commands run against a fake API
//! (common/fake_di.rs): events exactly once across stops and runs, and the filter's alerts.
//!
//! Over 800 lines: one file for the whole shipped layout, as every check shares the install
//! helper and the parsed configs; the cases are tables.

#[path = "common/fake_di.rs"]
mod fake_di;
#[path = "common/live.rs"]
mod live;

use fake_di::{FakeConfig, FakeDi, FakeEvent};
use jcdetect::decode::time::{to_rfc3339, NANOS};
use live::{example_lines, example_path, plain, Live, TempDir, BIN, TIMEOUT};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// The documented layout (pipeline-configs/install.sh, run.sh).

const BIN_PATH: &str = "/usr/local/bin/jcdetect";
const LIB_DIR: &str = "/usr/local/lib/jcdetect";
const ETC_DIR: &str = "/etc/jcdetect";
const VAR_DIR: &str = "/var/lib/jcdetect";
const LOG_DIR: &str = "/var/log/jcdetect";
/// The DI log the configs read (`install.sh --di-log` replaces it).
const DI_LOG: &str = "/var/log/jumpcloud/di.ndjson";
/// Where the systemd unit goes (not a path any config names at run time).
const UNIT_DIR: &str = "/etc/systemd/system";
/// Every root a config value may name; `install.sh --prefix` moves all but the DI log.
const LAYOUT: [&str; 6] = [BIN_PATH, LIB_DIR, ETC_DIR, VAR_DIR, LOG_DIR, DI_LOG];
const RELOCATED: [&str; 5] = [BIN_PATH, LIB_DIR, ETC_DIR, VAR_DIR, LOG_DIR];
const RUN_SH: &str = "/usr/local/lib/jcdetect/run.sh";
const TOML: &str = "/etc/jcdetect/jcdetect.toml";
/// The DI API key the pull patterns read: the administrator's to create, never install.sh's.
const API_KEY: &str = "/etc/jcdetect/api-key";
/// How `jcdetect-pull.service` names it: systemd's private copy (`LoadCredential=`).
const UNIT_KEY: &str = "${CREDENTIALS_DIRECTORY}/api-key";
/// Vector's default `--graceful-shutdown-limit-secs`: a stopping child must be done by then.
const VECTOR_GRACE_SECS: f64 = 60.0;
/// The Fluent Bit module as installed, as `wasm/build.sh` writes it, and its export.
const WASM_INSTALLED: &str = "/usr/local/lib/jcdetect/jcdetect-fluentbit.wasm";
const WASM_BUILT: &str = "wasm/target/fluentbit/wasm32-wasip1/release/jcdetect_wasm.wasm";
const WASM_EXPORT: &str = "jcdetect_filter";
/// The patterns run.sh starts (the unit's instance names).
const PATTERNS: [&str; 8] = [
    "fluent-bit-wasm",
    "fluent-bit-pipe",
    "vector-exec",
    "vector-sandwich",
    "vector-pipe",
    "vector-pull",
    "vector-pull-detect",
    "fluent-bit-pull",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn dir() -> PathBuf {
    root().join("pipeline-configs")
}

fn read_path(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn read(name: &str) -> String {
    read_path(&dir().join(name))
}

fn yaml_text(name: &str, text: &str) -> Value {
    serde_norway::from_str(text).unwrap_or_else(|e| panic!("{name}: bad YAML: {e}"))
}

fn yaml(name: &str) -> Value {
    yaml_text(name, &read(name))
}

fn yaml_at(p: &Path) -> Value {
    yaml_text(&p.display().to_string(), &read_path(p))
}

fn files() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir())
        .expect("pipeline-configs/")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// `path` is `root` or inside it.
fn under(path: &str, root: &str) -> bool {
    path == root || path.starts_with(&format!("{root}/"))
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

#[cfg(unix)]
fn executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Write an executable shell script.
fn script(path: &Path, body: &str) {
    std::fs::write(path, body).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// A small parser for Fluent Bit's classic format: `[SECTION]` headers, indented `Key value`
// lines, `#` comment lines, `@SET k=v` (substituted as `${k}`) and `@INCLUDE file`.

#[derive(Debug, Clone)]
struct Section {
    name: String,
    /// Keys lower-cased (Fluent Bit keys are case-insensitive), in file order.
    entries: Vec<(String, String)>,
}

impl Section {
    fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    fn map(&self) -> BTreeMap<String, String> {
        self.entries
            .iter()
            .map(|(k, v)| (k.clone(), norm(v)))
            .collect()
    }
}

fn classic(path: &Path) -> Vec<Section> {
    let mut vars = BTreeMap::new();
    let mut out = Vec::new();
    classic_into(path, &mut vars, &mut out);
    out
}

fn classic_into(path: &Path, vars: &mut BTreeMap<String, String>, out: &mut Vec<Section>) {
    let text = read_path(path);
    let name = path.display().to_string();
    for (i, raw) in text.lines().enumerate() {
        let at = format!("{name}:{}", i + 1);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut line = line.to_string();
        for (k, v) in vars.iter() {
            line = line.replace(&format!("${{{k}}}"), v);
        }
        if let Some(rest) = line.strip_prefix("@SET ") {
            let (k, v) = rest
                .split_once('=')
                .unwrap_or_else(|| panic!("{at}: @SET needs k=v"));
            vars.insert(k.trim().into(), v.trim().into());
        } else if let Some(file) = line.strip_prefix("@INCLUDE ") {
            classic_into(&path.parent().unwrap().join(file.trim()), vars, out);
        } else if line.starts_with('[') {
            assert!(line.ends_with(']'), "{at}: bad section header `{line}`");
            assert!(
                !raw.starts_with(' '),
                "{at}: section headers are not indented"
            );
            out.push(Section {
                name: line[1..line.len() - 1].trim().to_ascii_uppercase(),
                entries: Vec::new(),
            });
        } else {
            assert!(
                raw.starts_with("    "),
                "{at}: keys are indented (4 spaces): `{raw}`"
            );
            let (k, v) = line
                .split_once(char::is_whitespace)
                .unwrap_or_else(|| panic!("{at}: `{line}` has no value"));
            let sec = out
                .last_mut()
                .unwrap_or_else(|| panic!("{at}: key outside a section"));
            sec.entries
                .push((k.to_ascii_lowercase(), v.trim().to_string()));
        }
    }
}

fn sections<'a>(cfg: &'a [Section], name: &str) -> Vec<&'a Section> {
    cfg.iter().filter(|s| s.name == name).collect()
}

/// The one `[NAME]` section whose `Name` is `plugin`.
fn plugin<'a>(cfg: &'a [Section], section: &str, plugin: &str) -> &'a Section {
    let found: Vec<&Section> = sections(cfg, section)
        .into_iter()
        .filter(|s| s.get("name") == Some(plugin))
        .collect();
    assert_eq!(found.len(), 1, "one [{section}] {plugin} expected: {cfg:?}");
    found[0]
}

/// A YAML plugin entry as lower-cased key → string value.
fn yaml_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .expect("a plugin is a map")
        .iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.to_ascii_lowercase(), norm(&s))
        })
        .collect()
}

/// Fluent Bit booleans are `on/off`, `true/false`, `yes/no` in any case.
fn norm(v: &str) -> String {
    match v.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => "true".into(),
        "off" | "false" | "no" => "false".into(),
        _ => v.to_string(),
    }
}

fn yaml_plugin(cfg: &Value, kind: &str, name: &str) -> BTreeMap<String, String> {
    let list = cfg["pipeline"][kind]
        .as_array()
        .unwrap_or_else(|| panic!("pipeline.{kind} is a list"));
    let found: Vec<&Value> = list.iter().filter(|p| p["name"] == name).collect();
    assert_eq!(found.len(), 1, "one {kind} `{name}` expected");
    yaml_map(found[0])
}

/// Fluent Bit unit sizes: `1M` = 1,000,000 bytes, `32k` = 32,000.
fn unit_size(v: &str) -> u64 {
    let v = v.trim().to_ascii_lowercase();
    let (num, mult) = match v.trim_end_matches('b').char_indices().last() {
        Some((i, 'k')) => (&v[..i], 1_000),
        Some((i, 'm')) => (&v[..i], 1_000_000),
        Some((i, 'g')) => (&v[..i], 1_000_000_000),
        _ => (v.as_str(), 1),
    };
    num.parse::<u64>()
        .unwrap_or_else(|_| panic!("bad size `{v}`"))
        * mult
}

/// Fluent Bit `Match` patterns: `*` matches any run of characters.
fn glob(pattern: &str, tag: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == tag,
        Some((head, rest)) => {
            tag.starts_with(head)
                && (0..=tag.len() - head.len()).any(|i| glob(rest, &tag[head.len() + i..]))
        }
    }
}

/// Every string in a parsed config, depth first.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        Value::Object(o) => o.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

fn toml_strings(v: &toml::Value, out: &mut Vec<String>) {
    match v {
        toml::Value::String(s) => out.push(s.clone()),
        toml::Value::Array(a) => a.iter().for_each(|v| toml_strings(v, out)),
        toml::Value::Table(t) => t.values().for_each(|v| toml_strings(v, out)),
        _ => {}
    }
}

fn toml_table(text: &str) -> toml::Table {
    text.parse::<toml::Table>()
        .unwrap_or_else(|e| panic!("bad TOML: {e}"))
}

/// A systemd unit: section → (key, value) in file order.
fn unit(text: &str) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut current = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.to_string());
            out.entry(name.to_string()).or_default();
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("unit line {}: `{line}` is not KEY=VALUE", i + 1));
        let sec = current
            .clone()
            .unwrap_or_else(|| panic!("unit line {}: key outside a section", i + 1));
        out.entry(sec)
            .or_default()
            .push((k.trim().to_string(), v.trim().to_string()));
    }
    out
}

fn unit_get<'a>(
    u: &'a BTreeMap<String, Vec<(String, String)>>,
    sec: &str,
    key: &str,
) -> Option<&'a str> {
    u.get(sec)?
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// run.sh's defaults: `NAME=${ENV:-default}` lines, as NAME → default.
fn script_defaults(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let (name, rest) = l.split_once("=${")?;
            let (_, default) = rest.strip_suffix('}')?.split_once(":-")?;
            name.chars()
                .all(|c| c.is_ascii_uppercase() || c == '_')
                .then(|| (name.to_string(), default.to_string()))
        })
        .collect()
}

/// The leading comment block of a file (`#` lines, a shebang skipped), `#` removed.
fn header_of(text: &str) -> String {
    text.lines()
        .skip_while(|l| l.starts_with("#!"))
        .take_while(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim())
        .collect::<Vec<_>>()
        .join("\n")
}

fn header(name: &str) -> String {
    header_of(&read(name))
}

/// Where a file is installed: the path its header starts with (None for install.sh and the
/// README, which stay in the repository).
fn installed_as(name: &str) -> Option<String> {
    if name == "install.sh" || name.ends_with(".md") {
        return None;
    }
    let h = header(name);
    let first = h.split_whitespace().next().unwrap_or("").to_string();
    first.starts_with('/').then_some(first)
}

/// The repository file installed at the layout path `path`.
fn source_of(path: &str) -> String {
    files()
        .into_iter()
        .find(|f| installed_as(f).as_deref() == Some(path))
        .unwrap_or_else(|| panic!("no file in pipeline-configs/ is installed as {path}"))
}

// ---------------------------------------------------------------------------------------
// 1. Every file.

#[test]
fn every_file_parses_and_says_where_it_goes_what_it_does_and_how_to_run_it() {
    let names = files();
    for expected in [
        "README.md",
        "install.sh",
        "run.sh",
        "jcdetect@.service",
        "jcdetect.toml",
        "fluent-bit-wasm.yaml",
        "fluent-bit-wasm.conf",
        "fluent-bit-parsers.conf",
        "fluent-bit-collect.conf",
        "fluent-bit-ship.conf",
        "vector-pipe.yaml",
        "vector-pipe-ship.yaml",
        "vector-exec.yaml",
        "vector-sandwich.yaml",
        "vector-pull.yaml",
        "vector-pull-detect.yaml",
        "fluent-bit-pull.conf",
        "jcdetect-pull.service",
    ] {
        assert!(names.contains(&expected.to_string()), "missing {expected}");
    }
    for name in &names {
        let path = dir().join(name);
        match name.rsplit('.').next().unwrap() {
            "md" => continue,
            "yaml" => {
                yaml(name);
            }
            "conf" => assert!(!classic(&path).is_empty(), "{name}: no sections"),
            "toml" => check_jcdetect_toml(name, &read(name)),
            "sh" => {
                let st = Command::new("bash").arg("-n").arg(&path).status().unwrap();
                assert!(st.success(), "{name}: bash -n failed");
                #[cfg(unix)]
                assert!(executable(&path), "{name} is not executable");
            }
            "service" => check_unit(name),
            other => panic!("{name}: no check for .{other} files; add one"),
        }
        let h = header(name);
        let first = h.split_whitespace().next().unwrap_or("");
        if name == "install.sh" {
            assert_eq!(
                first, "pipeline-configs/install.sh",
                "{name}: header names it"
            );
        } else {
            // The path it is installed as, which must be in the layout.
            assert!(
                first.starts_with('/') && first.ends_with(&format!("/{name}")),
                "{name}: the header starts with its installed path, not `{first}`"
            );
            let d = parent(first);
            assert!(
                [LIB_DIR, ETC_DIR, UNIT_DIR].contains(&d),
                "{name}: installed in {d}, not a layout directory"
            );
        }
        assert!(
            h[first.len()..].trim_start().starts_with("— "),
            "{name}: `PATH — what it is` on the first line"
        );
        assert!(
            h.contains("What it does"),
            "{name}: header says what it does"
        );
        // The label, or at least the command that runs the installed file.
        let runs_it = installed_as(name).is_some_and(|at| {
            h.contains(&format!("-c {at}")) || h.contains(&format!("--config {at}"))
        });
        assert!(
            h.contains("How to run it") || h.contains("How to use it") || runs_it,
            "{name}: header says how to run it"
        );
        if !(h.contains("How to run it") || h.contains("How to use it")) {
            eprintln!("note: {name}: the header has no `How to run it` label");
        }
    }
}

/// The systemd units: `jcdetect@.service` runs run.sh; `jcdetect-pull.service` runs the
/// filter on the DI API itself.
fn check_unit(name: &str) {
    let u = unit(&read(name));
    let get = |key: &str| unit_get(&u, "Service", key);
    assert!(
        unit_get(&u, "Install", "WantedBy").is_some(),
        "{name}: [Install] WantedBy (systemctl enable)"
    );
    // SIGTERM to the main process alone: run.sh stops a pipe in order; jcdetect saves.
    assert_eq!(get("KillMode"), Some("mixed"), "{name}");
    assert_eq!(get("KillSignal"), Some("SIGTERM"), "{name}");
    assert_eq!(get("Restart"), Some("on-failure"), "{name}");
    match name {
        "jcdetect@.service" => {
            assert_eq!(
                get("ExecStart"),
                Some(format!("{RUN_SH} %i").as_str()),
                "{name}: ExecStart runs run.sh with the instance name"
            );
            // Every pattern run.sh starts is named as an instance.
            for p in PATTERNS {
                assert!(header(name).contains(p), "{name}: header names {p}");
            }
        }
        "jcdetect-pull.service" => {
            let argv = unit_argv(&u);
            assert_eq!(argv[0], BIN_PATH, "{name}");
            assert!(argv.iter().any(|a| a == "--pull"), "{name}: --pull");
            check_filter_args(name, &argv);
            assert!(
                header(name).contains(&argv.join(" ")),
                "{name}: header shows {argv:?}"
            );
            // The key: systemd's private copy of the layout's key file, never the unit's text.
            check_api_args(name, &argv, UNIT_KEY);
            assert_eq!(
                get("LoadCredential"),
                Some(format!("api-key:{API_KEY}").as_str()),
                "{name}"
            );
            assert!(get("Environment").is_none() && get("EnvironmentFile").is_none());
            // Alerts appended to a log file; exit 2 (bad usage, no key, a refused key) is not
            // retried, other failures are.
            let out = get("StandardOutput").and_then(|o| o.strip_prefix("append:"));
            let out = out.unwrap_or_else(|| panic!("{name}: StandardOutput=append:FILE"));
            assert!(under(parent(out), LOG_DIR), "{name}: alerts to {out}");
            let prevent: Vec<&str> = get("RestartPreventExitStatus")
                .unwrap_or("")
                .split_whitespace()
                .collect();
            assert_eq!(prevent, ["2"], "{name}: RestartPreventExitStatus");
            // A stop waits for the request in flight: it must end before systemd's SIGKILL.
            let request = secs(arg_after(&argv, "--timeout-secs").expect("--timeout-secs"));
            let stop = secs(get("TimeoutStopSec").expect("TimeoutStopSec"));
            assert!(
                request < stop,
                "{name}: --timeout-secs {request} >= TimeoutStopSec {stop}"
            );
            // ProtectSystem=strict: everything it writes is under ReadWritePaths.
            assert_eq!(get("ProtectSystem"), Some("strict"), "{name}");
            let rw: Vec<&str> = get("ReadWritePaths")
                .unwrap_or("")
                .split_whitespace()
                .collect();
            let state = arg_after(&argv, "--state").unwrap();
            let errors = arg_after(&argv, "--errors").unwrap();
            for w in [state, errors, out] {
                assert!(
                    rw.iter().any(|d| under(w, d)),
                    "{name}: {w} not in ReadWritePaths"
                );
            }
        }
        other => panic!("{other}: no check for this unit; add one"),
    }
}

/// The ExecStart of a unit, split into words (no quoting in ours).
fn unit_argv(u: &BTreeMap<String, Vec<(String, String)>>) -> Vec<String> {
    unit_get(u, "Service", "ExecStart")
        .expect("ExecStart")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn secs(v: &str) -> f64 {
    v.parse()
        .unwrap_or_else(|_| panic!("`{v}` is not a number of seconds"))
}

/// The filter's files in a jcdetect command line: the installed config, a state file and a
/// dead-letter file in their layout directories.
fn check_filter_args(name: &str, argv: &[String]) {
    assert_eq!(arg_after(argv, "--config"), Some(TOML), "{name}");
    let state = arg_after(argv, "--state").expect("--state");
    assert!(under(parent(state), VAR_DIR), "{name}: --state {state}");
    let errors = arg_after(argv, "--errors").expect("--errors");
    assert!(under(parent(errors), LOG_DIR), "{name}: --errors {errors}");
}

/// A valid jcdetect config, and the Fluent Bit filter's `[fluentbit]` table well-formed.
fn check_jcdetect_toml(name: &str, text: &str) {
    jcdetect::Config::from_toml_str(text)
        .unwrap_or_else(|e| panic!("{name}: not a jcdetect config: {e}"));
    let t = toml_table(text);
    let fb = t["fluentbit"]
        .as_table()
        .unwrap_or_else(|| panic!("{name}: [fluentbit] table"));
    for (k, v) in fb {
        match k.as_str() {
            "output" => assert!(
                matches!(v.as_str(), Some("events" | "alerts")),
                "{name}: fluentbit.output"
            ),
            "format" => assert!(
                matches!(v.as_str(), Some("ecs" | "ocsf")),
                "{name}: fluentbit.format"
            ),
            "use_record_time" => assert!(v.is_bool(), "{name}: fluentbit.use_record_time"),
            "state" => assert!(
                v.as_str().is_some_and(|s| s.starts_with('/')),
                "{name}: fluentbit.state is absolute"
            ),
            "checkpoint_secs" | "checkpoint_records" => assert!(
                v.as_integer().is_some_and(|n| n >= 1),
                "{name}: fluentbit.{k} >= 1"
            ),
            other => panic!("{name}: unknown key fluentbit.{other}"),
        }
    }
}

#[test]
fn scripts_print_their_header_as_usage() {
    let tmp = TempDir::new("usage");
    // run.sh without a pattern: the header on stderr, exit 2.
    let out = Command::new(dir().join("run.sh"))
        .env("TMPDIR", &tmp.0)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let got = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        got.lines().collect::<Vec<_>>(),
        raw_header_lines("run.sh"),
        "run.sh usage"
    );
    // An unknown pattern is refused, naming the ones there are.
    let out = Command::new(dir().join("run.sh"))
        .arg("no-such-pattern")
        .env("TMPDIR", &tmp.0)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for p in PATTERNS {
        assert!(err.contains(p), "run.sh: the error lists {p}: {err}");
    }
    // install.sh --help: the header on stdout, exit 0, nothing installed.
    let out = Command::new(dir().join("install.sh"))
        .args(["--help", "--prefix"])
        .arg(tmp.join("never"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let got = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        got.lines().collect::<Vec<_>>(),
        raw_header_lines("install.sh")
    );
    let out = Command::new(dir().join("install.sh"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "install.sh: unknown argument");
}

/// The header's lines as written (with `#`), shebang skipped.
fn raw_header_lines(name: &str) -> Vec<String> {
    read(name)
        .lines()
        .skip_while(|l| l.starts_with("#!"))
        .take_while(|l| l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_readme_names_only_files_that_exist() {
    let names = files();
    let text = read("README.md");
    let mut named = 0;
    for word in text.split('`') {
        let word = word.trim();
        let file = word.rsplit('/').next().unwrap_or(word);
        let is_config = [".yaml", ".conf", ".sh", ".toml", ".service"]
            .iter()
            .any(|e| file.ends_with(e));
        if !is_config || word.contains(' ') || word.starts_with("wasm/") {
            continue;
        }
        named += 1;
        assert!(
            names.contains(&file.to_string()),
            "README.md names `{word}`, which is not in pipeline-configs/"
        );
    }
    assert!(named > 5, "README.md names the files ({named})");
}

// ---------------------------------------------------------------------------------------
// 2. Absolute paths only in the layout.

/// Every config value (YAML and TOML strings, classic values, unit values, run.sh defaults)
/// of `name`, split into words.
fn value_words(name: &str, text: &str, path: &Path) -> Vec<String> {
    let mut values = Vec::new();
    match name.rsplit('.').next().unwrap() {
        "yaml" => strings(&yaml_text(name, text), &mut values),
        "conf" => values.extend(
            classic(path)
                .into_iter()
                .flat_map(|s| s.entries)
                .map(|(_, v)| v),
        ),
        "toml" => toml_strings(&toml::Value::Table(toml_table(text)), &mut values),
        "service" => values.extend(unit(text).into_values().flatten().map(|(k, v)| {
            // `ID:PATH` and `append:PATH`: the path is what names the layout.
            let path = match k.as_str() {
                "LoadCredential" => v.split_once(':').map(|(_, p)| p),
                "StandardOutput" | "StandardError" => v.strip_prefix("append:"),
                _ => None,
            };
            path.map_or(v.clone(), str::to_string)
        })),
        "sh" if name == "run.sh" => values.extend(script_defaults(text).into_values()),
        _ => {}
    }
    values
        .iter()
        .flat_map(|v| v.split(|c: char| c.is_whitespace() || c == ','))
        // systemd makes the credentials directory per run; it is no layout path.
        .filter(|w| !w.is_empty() && *w != UNIT_KEY)
        .map(str::to_string)
        .collect()
}

#[test]
fn absolute_paths_are_only_in_the_layout_and_no_relative_path_remains() {
    let mut used = BTreeSet::new();
    let mut checked = 0;
    for name in files() {
        let path = dir().join(&name);
        for w in value_words(&name, &read(&name), &path) {
            if !w.contains('/') {
                continue;
            }
            checked += 1;
            assert!(
                w.starts_with('/'),
                "{name}: relative path `{w}` (the configs run from any directory)"
            );
            let root = LAYOUT
                .iter()
                .find(|r| under(&w, r))
                .unwrap_or_else(|| panic!("{name}: `{w}` is outside the layout {LAYOUT:?}"));
            used.insert(*root);
        }
    }
    // Not vacuous: every root is used by some value.
    assert!(checked >= 20, "only {checked} path values found");
    for r in LAYOUT {
        assert!(used.contains(r), "no config value names {r}");
    }
    // run.sh's defaults are the layout itself.
    let d = script_defaults(&read("run.sh"));
    assert_eq!(d["ETC"], ETC_DIR);
    assert_eq!(d["VAR"], VAR_DIR);
    assert_eq!(d["LOG"], LOG_DIR);
    assert_eq!(d["JCDETECT"], BIN_PATH);
}

// ---------------------------------------------------------------------------------------
// 3. install.sh

struct Installed {
    tmp: TempDir,
    prefix: PathBuf,
    di_log: PathBuf,
    /// The module install.sh was given (the real one when built, else a dummy).
    wasm: PathBuf,
    stderr: String,
}

impl Installed {
    fn prefix_str(&self) -> &str {
        self.prefix.to_str().unwrap()
    }
    /// A layout path, under the prefix.
    fn at(&self, layout: &str) -> PathBuf {
        PathBuf::from(format!("{}{layout}", self.prefix_str()))
    }
    /// What install.sh writes for a repository file: every layout path moved under the prefix,
    /// the DI log replaced by `--di-log`.
    fn relocate(&self, text: &str) -> String {
        let mut t = text.to_string();
        for r in RELOCATED {
            t = t.replace(r, &format!("{}{r}", self.prefix_str()));
        }
        t.replace(DI_LOG, self.di_log.to_str().unwrap())
    }
    fn run_install(&self) -> std::process::Output {
        let out = Command::new(dir().join("install.sh"))
            .arg("--prefix")
            .arg(&self.prefix)
            .arg("--di-log")
            .arg(&self.di_log)
            .arg("--bin")
            .arg(BIN)
            .arg("--wasm")
            .arg(&self.wasm)
            .current_dir(&self.tmp.0)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "install.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

/// `install.sh --prefix TMP/root --di-log TMP/di.ndjson (a copy of the example) --bin BIN`.
fn install(tag: &str) -> Installed {
    let tmp = TempDir::new(tag);
    let di_log = tmp.join("di.ndjson");
    std::fs::copy(example_path(), &di_log).unwrap();
    let built = root().join(WASM_BUILT);
    let wasm = if built.is_file() {
        built
    } else {
        let p = tmp.join("dummy.wasm");
        std::fs::write(&p, b"\0asm\x01\0\0\0").unwrap();
        p
    };
    let mut inst = Installed {
        prefix: tmp.join("root"),
        tmp,
        di_log,
        wasm,
        stderr: String::new(),
    };
    let out = inst.run_install();
    inst.stderr = String::from_utf8_lossy(&out.stderr).into();
    inst
}

/// Every text file install.sh wrote (configs, run.sh, the unit).
fn installed_texts(inst: &Installed) -> Vec<(PathBuf, String)> {
    let mut v = Vec::new();
    for d in [ETC_DIR, LIB_DIR, UNIT_DIR] {
        for e in std::fs::read_dir(inst.at(d)).unwrap() {
            let p = e.unwrap().path();
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            if ["wasm", "aot"].contains(&ext) {
                continue; // the module
            }
            v.push((p.clone(), read_path(&p)));
        }
    }
    v.sort();
    v
}

/// Maximal path-like words of `text` starting with `start`.
fn paths_from(text: &str, start: &str) -> Vec<String> {
    text.match_indices(start)
        .map(|(i, _)| {
            let rest = &text[i..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || "._-/@%+".contains(c)))
                .unwrap_or(rest.len());
            rest[..end].trim_end_matches('.').to_string()
        })
        .collect()
}

#[test]
fn install_puts_every_file_where_its_header_says_and_relocates_every_path() {
    let inst = install("install");
    let p = inst.prefix_str().to_string();
    let mut problems = Vec::new();

    // Each repository file is installed where its header says, relocated and nothing else.
    let mut expected_files = BTreeSet::new();
    for name in files() {
        let Some(dest) = installed_as(&name) else {
            continue;
        };
        let at = inst.at(&dest);
        expected_files.insert(at.clone());
        match std::fs::read_to_string(&at) {
            Ok(text) => assert_eq!(
                text,
                inst.relocate(&read(&name)),
                "{}: not {name} relocated",
                at.display()
            ),
            Err(e) => problems.push(format!("{name}: not installed at {}: {e}", at.display())),
        }
    }
    assert!(
        executable(&inst.at(RUN_SH)),
        "run.sh is installed executable"
    );
    let bin = inst.at(BIN_PATH);
    assert!(executable(&bin), "the binary is installed executable");
    assert!(
        std::fs::read(&bin).unwrap() == std::fs::read(BIN).unwrap(),
        "{} is the --bin binary",
        bin.display()
    );
    assert_eq!(
        std::fs::read(inst.at(WASM_INSTALLED)).unwrap(),
        std::fs::read(&inst.wasm).unwrap(),
        "the module is installed as {WASM_INSTALLED}"
    );

    // Every layout path an installed file names: provided files exist, run-time files have
    // their directory, and nothing still names an unrelocated layout path.
    let texts = installed_texts(&inst);
    for (path, _) in &texts {
        assert!(
            expected_files.contains(path),
            "install.sh wrote {} (no repository file is installed there)",
            path.display()
        );
    }
    let di_log = inst.di_log.to_str().unwrap();
    let mut named = 0;
    for (path, text) in &texts {
        let file = path.display();
        for r in RELOCATED {
            for (i, _) in text.match_indices(r) {
                if !text[..i].ends_with(&p) {
                    let line = text[..i].lines().count();
                    problems.push(format!("{file}:{line}: names {r} outside the prefix"));
                }
            }
        }
        if text.contains(DI_LOG) {
            problems.push(format!("{file}: still names {DI_LOG}, not --di-log"));
        }
        for w in paths_from(text, di_log) {
            if w != di_log {
                problems.push(format!("{file}: names `{w}`"));
            }
        }
        for w in paths_from(text, &p) {
            named += 1;
            let rel = &w[p.len()..];
            let exists = Path::new(&w).exists();
            if [VAR_DIR, LOG_DIR].iter().any(|r| under(rel, r)) {
                // Made at run time (state, tail db, dead letters): its directory must exist.
                if !exists && !Path::new(parent(&w)).is_dir() {
                    problems.push(format!("{file}: names {rel}, whose directory is missing"));
                }
            } else if rel == API_KEY {
                // The administrator's to create; its directory is the layout's.
                if !Path::new(parent(&w)).is_dir() {
                    problems.push(format!("{file}: names {rel}, whose directory is missing"));
                }
            } else if !exists {
                problems.push(format!(
                    "{file}: names {rel}, which install.sh does not provide"
                ));
            }
        }
    }
    assert!(named > 40, "only {named} installed paths found");

    // Directories the programs refuse to start without.
    let mut dirs = vec![];
    for (path, text) in &texts {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.ends_with(".yaml") {
            let y = yaml_text(&name, text);
            if let Some(d) = y["data_dir"].as_str() {
                dirs.push((name.clone(), "data_dir", d.to_string()));
            }
            for f in y["pipeline"]["filters"].as_array().into_iter().flatten() {
                if let Some(a) = f["accessible_paths"].as_str() {
                    for d in a.split(',') {
                        dirs.push((name.clone(), "accessible_paths", d.trim().to_string()));
                    }
                }
            }
        } else if name.ends_with(".conf") {
            for s in classic(path) {
                if let Some(a) = s.get("accessible_paths") {
                    for d in a.split(',') {
                        dirs.push((name.clone(), "Accessible_Paths", d.trim().to_string()));
                    }
                }
            }
        } else if name == "run.sh" {
            for (k, v) in script_defaults(text) {
                if ["ETC", "VAR", "LOG"].contains(&k.as_str()) {
                    dirs.push((name.clone(), "default", v));
                }
            }
        }
    }
    assert!(dirs.len() >= 7, "directories named: {dirs:?}");
    for (name, key, d) in &dirs {
        if !d.starts_with(&p) {
            problems.push(format!("{name}: {key} {d} is not under the prefix"));
        } else if !Path::new(d).is_dir() {
            problems.push(format!(
                "{name}: {key} {} does not exist after install.sh",
                &d[p.len()..]
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // No key is ever installed: install.sh says where it goes instead.
    assert!(!inst.at(API_KEY).exists(), "install.sh wrote {API_KEY}");
    assert!(inst.stderr.contains("api-key"), "{}", inst.stderr);

    // systemd accepts the installed units (the template as an instance; their ExecStart
    // exists now).
    let units = inst.tmp.join("units");
    std::fs::create_dir_all(&units).unwrap();
    for (installed, verified) in [
        ("jcdetect@.service", "jcdetect@vector-exec.service"),
        ("jcdetect-pull.service", "jcdetect-pull.service"),
    ] {
        let unit_file = inst.at(&format!("{UNIT_DIR}/{installed}"));
        let copy = units.join(verified);
        std::fs::copy(&unit_file, &copy).unwrap();
        match Command::new("systemd-analyze")
            .arg("verify")
            .arg(&copy)
            .output()
        {
            Ok(out) => {
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(
                    out.status.success()
                        && !err.contains(verified)
                        && !err.contains(inst.prefix_str()),
                    "systemd-analyze verify {}: {err}",
                    copy.display()
                );
            }
            Err(e) => eprintln!("note: no systemd-analyze ({e}); unit verification skipped"),
        }
    }
}

#[test]
fn install_keeps_a_changed_config_and_writes_the_new_one_beside_it() {
    let inst = install("reinstall");
    let toml = inst.at(TOML);
    let original = read_path(&toml);
    let mine = original.replace("users = []", "users = [\"svc-backup\"]");
    assert_ne!(mine, original, "jcdetect.toml has `users = []` to change");
    jcdetect::Config::from_toml_str(&mine).unwrap();
    std::fs::write(&toml, &mine).unwrap();

    for _ in 0..2 {
        let out = inst.run_install();
        assert_eq!(
            read_path(&toml),
            mine,
            "install.sh overwrote a changed config"
        );
        let new = PathBuf::from(format!("{}.new", toml.display()));
        assert_eq!(
            read_path(&new),
            original,
            "the new config is written as .new"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("kept"),
            "install.sh says it kept the file: {err}"
        );
        // Only the changed file gets a .new; unchanged ones are rewritten in place.
        let news: Vec<String> = std::fs::read_dir(inst.at(ETC_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.contains(".new") || n.ends_with(".tmp"))
            .collect();
        assert_eq!(news, ["jcdetect.toml.new"]);
    }
}

// ---------------------------------------------------------------------------------------
// 4. Fluent Bit

/// The names a WebAssembly module exports (its export section).
fn wasm_exports(b: &[u8]) -> Vec<String> {
    fn leb(b: &[u8], i: &mut usize) -> usize {
        let (mut v, mut shift) = (0usize, 0);
        loop {
            let byte = b[*i];
            *i += 1;
            v |= ((byte & 0x7f) as usize) << shift;
            if byte & 0x80 == 0 {
                return v;
            }
            shift += 7;
        }
    }
    assert_eq!(&b[..8], b"\0asm\x01\0\0\0", "not a wasm module");
    let mut i = 8;
    let mut out = Vec::new();
    while i < b.len() {
        let id = b[i];
        i += 1;
        let size = leb(b, &mut i);
        let end = i + size;
        if id == 7 {
            let n = leb(b, &mut i);
            for _ in 0..n {
                let len = leb(b, &mut i);
                out.push(String::from_utf8_lossy(&b[i..i + len]).into_owned());
                i += len + 1; // name, kind
                leb(b, &mut i); // index
            }
        }
        i = end;
    }
    out
}

#[test]
fn fluent_bit_wasm_configs_agree_and_name_the_module_its_export_and_its_directories() {
    let y = yaml("fluent-bit-wasm.yaml");
    let c = classic(&dir().join("fluent-bit-wasm.conf"));
    let yf = yaml_plugin(&y, "filters", "wasm");
    let cf = plugin(&c, "FILTER", "wasm").map();
    // Same settings in both formats (classic writes `WASM_Path`: keys are case-insensitive).
    assert_eq!(yf, cf, "the YAML and classic wasm filters differ");
    assert_eq!(cf["function_name"], WASM_EXPORT);
    assert_eq!(cf["event_format"], "json");
    assert_eq!(cf["wasm_path"], WASM_INSTALLED);
    // The module is installed by install.sh from where wasm/build.sh writes it.
    assert!(read("install.sh").contains(WASM_BUILT));

    // The module reads jcdetect.toml from the first Accessible_Paths directory that has one,
    // and writes its checkpoints where `[fluentbit] state` says: both directories must be
    // accessible, and no directory before the config's may hold another jcdetect.toml.
    let access: Vec<&str> = cf["accessible_paths"].split(',').map(str::trim).collect();
    let toml_dir = parent(TOML);
    assert_eq!(installed_as("jcdetect.toml").as_deref(), Some(TOML));
    let first = access
        .iter()
        .position(|d| *d == toml_dir)
        .unwrap_or_else(|| panic!("Accessible_Paths {access:?} lacks {toml_dir}"));
    for d in &access[..first] {
        assert!(
            !files()
                .iter()
                .any(|f| installed_as(f).as_deref() == Some(&format!("{d}/jcdetect.toml"))),
            "{d} comes first and has a jcdetect.toml of its own"
        );
    }
    let t = toml_table(&read("jcdetect.toml"));
    let state = t["fluentbit"]["state"].as_str().expect("[fluentbit] state");
    assert!(
        access.iter().any(|d| under(parent(state), d)),
        "[fluentbit] state {state}: its directory is not in Accessible_Paths {access:?}"
    );
    for d in &access {
        assert!(
            *d == ETC_DIR || under(d, VAR_DIR),
            "Accessible_Paths {d}: only the config and state directories"
        );
    }
    let host = std::fs::read_to_string(root().join("wasm/src/host.rs")).unwrap();
    assert!(
        host.contains("fn preopened_dirs") && host.contains("/jcdetect.toml"),
        "wasm/src/host.rs reads jcdetect.toml from the preopened directories"
    );

    // No heap or stack sizes: the module brings its own malloc/free, so the defaults do.
    for k in ["wasm_heap_size", "wasm_stack_size"] {
        assert!(!cf.contains_key(k), "{k} is set again: say why");
    }
    let built = root().join(WASM_BUILT);
    if built.is_file() {
        let exports = wasm_exports(&std::fs::read(&built).unwrap());
        for e in [WASM_EXPORT, "malloc", "free", "memory"] {
            assert!(exports.iter().any(|x| x == e), "{WASM_BUILT} exports {e}");
        }
    } else {
        eprintln!("note: {WASM_BUILT} not built; export checks skipped");
    }
    let script = read_path(&root().join("wasm/build.sh"));
    // The Fluent Bit module is the SIMD-free build (Fluent Bit's WAMR has SIMD off).
    assert!(
        script.contains("wasm32-wasip1")
            && script.contains("-simd128")
            && script.contains("target/fluentbit"),
        "wasm/build.sh must build {WASM_BUILT} without SIMD"
    );
    let export = format!("fn {WASM_EXPORT}(");
    assert!(
        std::fs::read_dir(root().join("wasm/src"))
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
            .any(|src| src.contains(&export) && src.contains("#[no_mangle]")),
        "wasm/src must export {WASM_EXPORT}"
    );
    for name in ["fluent-bit-wasm.yaml", "fluent-bit-wasm.conf"] {
        let h = header(name);
        assert!(
            h.contains("wasm/build.sh"),
            "{name}: how to build the module"
        );
        assert!(h.contains("install.sh"), "{name}: how to install it");
        assert!(h.contains(">= 4.2.0"), "{name}: which Fluent Bit is needed");
    }

    // The same input and output in both; the filter and the output match the input's tag.
    let yt = yaml_plugin(&y, "inputs", "tail");
    let ct = plugin(&c, "INPUT", "tail").map();
    assert_eq!(yt, ct, "the YAML and classic tail inputs differ");
    assert_eq!(ct["path"], DI_LOG);
    assert!(glob(&cf["match"], &ct["tag"]));
    assert!(
        under(parent(&ct["db"]), VAR_DIR),
        "tail db {} under {VAR_DIR}",
        ct["db"]
    );
    assert!(unit_size(&ct["buffer_max_size"]) >= 100_000);
    let yo = yaml_plugin(&y, "outputs", "stdout");
    let co = plugin(&c, "OUTPUT", "stdout").map();
    assert_eq!(yo, co, "the YAML and classic outputs differ");
    assert!(glob(&co["match"], &ct["tag"]));
    // The tail parser is defined: inline in YAML, in the Parsers_File for classic, the same.
    let yp: Vec<BTreeMap<String, String>> = y["parsers"]
        .as_array()
        .expect("parsers")
        .iter()
        .map(yaml_map)
        .filter(|p| p["name"] == yt["parser"])
        .collect();
    assert_eq!(yp.len(), 1, "the YAML defines parser {}", yt["parser"]);
    assert_eq!(yp[0], classic_parser(&c, &ct["parser"]));
}

/// The `[PARSER]` named `parser` in the config's Parsers_File (a layout path).
fn classic_parser(cfg: &[Section], parser: &str) -> BTreeMap<String, String> {
    let service = sections(cfg, "SERVICE");
    let file = service[0].get("parsers_file").expect("Parsers_File");
    assert!(under(file, ETC_DIR), "Parsers_File {file} in {ETC_DIR}");
    let parsers = classic(&dir().join(source_of(file)));
    let found: Vec<&Section> = sections(&parsers, "PARSER")
        .into_iter()
        .filter(|p| p.get("name") == Some(parser))
        .collect();
    assert_eq!(found.len(), 1, "{file} defines the parser `{parser}`");
    assert_eq!(found[0].get("format"), Some("json"), "{parser} is JSON");
    found[0].map()
}

#[test]
fn fluent_bit_pipe_halves_print_plain_ndjson_and_read_long_lines() {
    let collect = classic(&dir().join("fluent-bit-collect.conf"));
    let tail = plugin(&collect, "INPUT", "tail");
    assert_eq!(tail.get("path"), Some(DI_LOG));
    assert!(unit_size(tail.get("buffer_max_size").unwrap()) >= 100_000);
    assert_eq!(
        tail.get("skip_long_lines").map(norm).as_deref(),
        Some("true")
    );
    classic_parser(&collect, tail.get("parser").unwrap());
    // Its own tail db, not the wasm pattern's.
    let db = tail.get("db").expect("tail DB");
    assert!(under(parent(db), VAR_DIR), "DB {db} under {VAR_DIR}");
    let wasm = classic(&dir().join("fluent-bit-wasm.conf"));
    assert_ne!(plugin(&wasm, "INPUT", "tail").get("db"), Some(db));
    let out = plugin(&collect, "OUTPUT", "stdout");
    assert_eq!(out.get("format"), Some("json_lines"));
    assert_eq!(out.get("json_date_key"), Some("false"));
    assert!(glob(out.get("match").unwrap(), tail.get("tag").unwrap()));

    let ship = classic(&dir().join("fluent-bit-ship.conf"));
    let stdin = plugin(&ship, "INPUT", "stdin");
    // The 16k default drops longer records.
    assert!(unit_size(stdin.get("buffer_size").unwrap()) >= 1_000_000);
    let out = &sections(&ship, "OUTPUT")[0];
    assert!(glob(out.get("match").unwrap(), stdin.get("tag").unwrap()));
}

// ---------------------------------------------------------------------------------------
// 5. Vector

fn vector_configs() -> Vec<String> {
    files()
        .into_iter()
        .filter(|f| f.starts_with("vector-") && f.ends_with(".yaml"))
        .collect()
}

fn ids(cfg: &Value, kind: &str) -> Vec<String> {
    cfg[kind]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn inputs(c: &Value) -> Vec<String> {
    c["inputs"]
        .as_array()
        .map(|a| a.iter().map(|i| i.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// Every (kind, id, component) reading `input`.
fn readers<'a>(cfg: &'a Value, input: &str) -> Vec<(String, &'a Value)> {
    let mut v = Vec::new();
    for kind in ["transforms", "sinks"] {
        for (id, c) in cfg[kind].as_object().into_iter().flatten() {
            if inputs(c).iter().any(|i| i == input) {
                v.push((id.clone(), c));
            }
        }
    }
    v
}

/// The value after `flag` in `argv`.
fn arg_after<'a>(argv: &'a [String], flag: &str) -> Option<&'a str> {
    let at = argv.iter().position(|a| a == flag)?;
    argv.get(at + 1).map(String::as_str)
}

#[test]
fn vector_configs_wire_up_and_use_the_documented_codecs() {
    let mut states = BTreeSet::new();
    let mut data_dirs = BTreeSet::new();
    for name in vector_configs() {
        let cfg = yaml(&name);
        let mut known: Vec<String> = ids(&cfg, "sources");
        known.extend(ids(&cfg, "transforms"));
        // Every input exists; `X.dropped` only where X reroutes what it drops.
        for kind in ["transforms", "sinks"] {
            for (id, c) in cfg[kind].as_object().into_iter().flatten() {
                let ins = inputs(c);
                assert!(!ins.is_empty(), "{name}: {id} has no inputs");
                for i in ins {
                    let ok = known.contains(&i)
                        || i.strip_suffix(".dropped").is_some_and(|t| {
                            cfg["transforms"][t]["type"] == "remap"
                                && cfg["transforms"][t]["reroute_dropped"] == true
                        });
                    assert!(ok, "{name}: {id} reads unknown {i}");
                }
            }
        }
        // Every source and transform output goes somewhere.
        for id in &known {
            assert!(!readers(&cfg, id).is_empty(), "{name}: nothing reads {id}");
        }
        let mut has_file = false;
        for (id, c) in cfg["sources"].as_object().expect("sources") {
            assert_eq!(c["log_namespace"], true, "{name}: {id} log_namespace");
            match c["type"].as_str().unwrap() {
                "exec" => check_exec_source(&name, &cfg, id, c, &mut states),
                "stdin" => assert_eq!(c["decoding"]["codec"], "json", "{name}: {id}"),
                "file" => {
                    has_file = true;
                    assert_eq!(c["include"], serde_json::json!([DI_LOG]), "{name}: {id}");
                    assert_eq!(c["read_from"], "beginning", "{name}: {id}");
                    assert!(c["max_line_bytes"].as_u64().unwrap() >= 100_000);
                    check_di_remaps(&name, &cfg, id);
                }
                other => panic!("{name}: unexpected source type {other}"),
            }
        }
        // The file source keeps its checkpoints in data_dir (one per config).
        match cfg["data_dir"].as_str() {
            Some(d) => {
                assert!(has_file, "{name}: data_dir without a file source");
                assert!(under(d, VAR_DIR), "{name}: data_dir {d} under {VAR_DIR}");
                assert!(
                    data_dirs.insert(d.to_string()),
                    "{name}: data_dir {d} shared"
                );
            }
            None => assert!(!has_file, "{name}: a file source needs data_dir"),
        }
        for (id, c) in cfg["sinks"].as_object().expect("sinks") {
            match c["type"].as_str().unwrap() {
                "file" => {
                    assert_eq!(c["encoding"]["codec"], "text", "{name}: {id}");
                    let p = c["path"].as_str().unwrap();
                    assert!(under(p, LOG_DIR), "{name}: {id} writes {p}");
                }
                "console" => {
                    assert_eq!(c["encoding"]["codec"], "json", "{name}: {id}");
                    assert_eq!(c["target"], "stdout", "{name}: {id}");
                }
                "socket" => {
                    assert_eq!(c["encoding"]["codec"], "json", "{name}: {id}");
                    assert_eq!(c["mode"], "tcp");
                    assert_eq!(c["framing"]["method"], "newline_delimited");
                    assert_eq!(
                        c["healthcheck"]["enabled"], false,
                        "{name}: {id}: jcdetect is not listening yet when Vector starts"
                    );
                }
                other => panic!("{name}: unexpected sink type {other}"),
            }
        }
    }
    assert_eq!(
        data_dirs.len(),
        2,
        "vector-pipe and vector-sandwich: {data_dirs:?}"
    );
    // Each pattern its own state file (run.sh's pipes: VAR/PATTERN.state), the DI API
    // patterns' cursors included.
    let fb = toml_table(&read("jcdetect.toml"));
    assert!(states.insert(fb["fluentbit"]["state"].as_str().unwrap().to_string()));
    let fb_pull = fluent_bit_pull_argv(&classic(&dir().join("fluent-bit-pull.conf")));
    let unit_argv = unit_argv(&unit(&read("jcdetect-pull.service")));
    for (p, argv) in [("fluent-bit-pull", fb_pull), ("jcdetect-pull", unit_argv)] {
        let state = arg_after(&argv, "--state").expect("--state").to_string();
        assert!(states.insert(state), "{p}: state shared");
    }
    for p in ["fluent-bit-pipe", "vector-pipe"] {
        assert!(
            states.insert(format!("{VAR_DIR}/{p}.state")),
            "{p}: state shared"
        );
    }

    // The pipe: collect ends in a console sink, ship starts with stdin.
    let collect = yaml("vector-pipe.yaml");
    assert_eq!(collect["sinks"]["to_jcdetect"]["type"], "console");
    assert_eq!(inputs(&collect["sinks"]["to_jcdetect"]), ["di_events"]);
    assert_eq!(
        yaml("vector-pipe-ship.yaml")["sources"]["alerts_in"]["type"],
        "stdin"
    );
    // The sandwich's socket sink goes where its jcdetect listens, on loopback.
    let s = yaml("vector-sandwich.yaml");
    let argv = exec_argv(&s);
    let listen = arg_after(&argv, "--listen").expect("--listen");
    assert_eq!(s["sinks"]["to_jcdetect"]["address"], listen);
    assert_eq!(inputs(&s["sinks"]["to_jcdetect"]), ["di_events"]);
    let addr: SocketAddr = listen.parse().expect("--listen IP:PORT");
    assert!(addr.ip().is_loopback(), "--listen {listen}: loopback only");
    assert!(exec_argv(&yaml("vector-exec.yaml")).contains(&"--follow".to_string()));
}

/// An exec source runs the installed jcdetect with a state file of its own (the filter: also
/// the installed config and a dead-letter file; on the DI API: the layout's key file), reads
/// its stderr as bytes, and one remap turns the lines into events (stdout: alerts, or the
/// API's DI events for `jcdetect pull`) or Vector log lines (stderr).
fn check_exec_source(name: &str, cfg: &Value, id: &str, c: &Value, states: &mut BTreeSet<String>) {
    assert_eq!(c["mode"], "streaming", "{name}: {id}");
    assert_eq!(c["include_stderr"], true, "{name}: {id}");
    assert_eq!(c["decoding"]["codec"], "bytes", "{name}: {id}");
    assert_eq!(c["framing"]["method"], "newline_delimited", "{name}: {id}");
    assert_eq!(c["streaming"]["respawn_on_exit"], true, "{name}: {id}");
    let argv = exec_argv(cfg);
    assert_eq!(argv[0], BIN_PATH, "{name}: {id}");
    let pull_events = argv[1] == "pull";
    if !pull_events {
        check_filter_args(name, &argv);
    }
    let state = arg_after(&argv, "--state").expect("--state");
    assert!(under(parent(state), VAR_DIR), "{name}: --state {state}");
    assert!(
        states.insert(state.to_string()),
        "{name}: --state {state} shared"
    );
    if pull_events || argv.iter().any(|a| a == "--pull") {
        check_api_args(name, &argv, API_KEY);
        // On stop Vector waits this long for the child, which finishes its request first.
        let request = secs(arg_after(&argv, "--timeout-secs").expect("--timeout-secs"));
        assert!(
            request < VECTOR_GRACE_SECS,
            "{name}: --timeout-secs {request} is over Vector's shutdown limit"
        );
    }
    // The header shows the same command line.
    assert!(
        header(name).contains(&argv.join(" ")),
        "{name}: header shows {argv:?}"
    );

    let r = readers(cfg, id);
    assert_eq!(r.len(), 1, "{name}: only one remap reads {id}");
    let (rid, remap) = &r[0];
    let events = if pull_events {
        "di_events"
    } else {
        "jcdetect_alerts"
    };
    assert_eq!(rid, events, "{name}");
    assert_eq!(remap["type"], "remap", "{name}: {rid}");
    assert_eq!(remap["drop_on_abort"], true, "{name}: {rid}");
    let src = remap["source"].as_str().unwrap();
    for want in [
        "%exec.stream == \"stderr\"",
        "log(",
        "abort",
        "parse_json!(",
    ] {
        assert!(src.contains(want), "{name}: {rid} source lacks `{want}`");
    }
    assert!(
        !readers(cfg, events).is_empty(),
        "{name}: {events} go somewhere"
    );
}

/// A command on the DI API reads the key from the file `key` (so the key is never in a config
/// or on a command line) and uses only options jcdetect knows (`jcdetect pull --help`, or the
/// filter's).
fn check_api_args(name: &str, argv: &[String], key: &str) {
    assert_eq!(arg_after(argv, "--api-key-file"), Some(key), "{name}");
    let sub: &[&str] = if argv[1] == "pull" { &["pull"] } else { &[] };
    let out = Command::new(BIN).args(sub).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    let known: BTreeSet<&str> = help
        .split(|c: char| c.is_whitespace() || c == ',' || c == '=')
        .filter(|w| w.starts_with("--"))
        .collect();
    for a in argv.iter().filter(|a| a.starts_with("--")) {
        assert!(
            known.contains(a.as_str()),
            "{name}: jcdetect {sub:?} has no {a}"
        );
    }
}

/// A remap parsing DI lines drops what is not JSON into a dead-letter file sink.
fn check_di_remaps(name: &str, cfg: &Value, source: &str) {
    let r = readers(cfg, source);
    assert!(!r.is_empty(), "{name}: nothing parses {source}");
    for (id, t) in r {
        assert_eq!(t["type"], "remap", "{name}: {id}");
        assert!(t["source"].as_str().unwrap().contains("parse_json!"));
        assert_eq!(t["drop_on_error"], true, "{name}: {id}");
        assert_eq!(t["reroute_dropped"], true, "{name}: {id}");
        let dropped = format!("{id}.dropped");
        let dl = readers(cfg, &dropped);
        assert_eq!(dl.len(), 1, "{name}: one dead-letter sink reads {dropped}");
        assert_eq!(dl[0].1["type"], "file", "{name}: {}", dl[0].0);
    }
}

/// The argv of the config's one exec source.
fn exec_argv(cfg: &Value) -> Vec<String> {
    let execs: Vec<&Value> = cfg["sources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|s| s["type"] == "exec")
        .collect();
    assert_eq!(execs.len(), 1);
    execs[0]["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------
// 6. The exec sources' command lines, from the installed configs.

fn expected_alerts() -> Vec<String> {
    let v = plain(&[], &std::fs::read(example_path()).unwrap());
    assert!(!v.is_empty(), "the example raises alerts");
    v
}

/// Stop a running jcdetect with SIGTERM: it exits 0 and writes its --state file.
fn stop_and_check_state(jc: &mut Live, argv: &[String]) {
    let state = PathBuf::from(arg_after(argv, "--state").unwrap());
    jc.signal("TERM");
    let st = jc.wait_exit();
    assert!(st.success(), "SIGTERM: {st:?}\n{}", jc.stderr());
    assert!(
        state.is_file(),
        "no state file {} after SIGTERM",
        state.display()
    );
}

#[test]
fn vector_exec_command_follows_the_file_and_prints_the_filters_alerts() {
    let inst = install("vector-exec");
    let argv = exec_argv(&yaml_at(&inst.at("/etc/jcdetect/vector-exec.yaml")));
    assert_eq!(Path::new(&argv[0]), inst.at(BIN_PATH));
    assert_eq!(arg_after(&argv, "--follow"), inst.di_log.to_str());
    let expected = expected_alerts();
    let mut jc = Live::spawn(&argv[0], &argv[1..]);
    jc.wait_lines(expected.len(), "vector-exec alerts");
    assert_eq!(jc.settle(Duration::from_millis(400)), &expected[..]);
    assert!(jc.running(), "the exec source's command keeps running");
    stop_and_check_state(&mut jc, &argv);
}

#[test]
fn vector_sandwich_command_listens_and_prints_the_filters_alerts() {
    let inst = install("vector-sandwich");
    let cfg = yaml_at(&inst.at("/etc/jcdetect/vector-sandwich.yaml"));
    let mut argv = exec_argv(&cfg);
    assert_eq!(Path::new(&argv[0]), inst.at(BIN_PATH));
    // Port 0: tests run in parallel (the configured address is checked above).
    let at = argv.iter().position(|a| a == "--listen").unwrap() + 1;
    assert_eq!(cfg["sinks"]["to_jcdetect"]["address"], argv[at]);
    argv[at] = "127.0.0.1:0".into();
    let expected = expected_alerts();
    let mut jc = Live::spawn(&argv[0], &argv[1..]);
    let addr = jc.listen_addr();
    // What Vector's socket sink sends: one JSON event per line.
    let mut sock = TcpStream::connect(addr).unwrap();
    sock.write_all(&example_lines().concat()).unwrap();
    drop(sock);
    jc.wait_lines(expected.len(), "vector-sandwich alerts");
    assert_eq!(jc.settle(Duration::from_millis(400)), &expected[..]);
    assert!(jc.running());
    stop_and_check_state(&mut jc, &argv);
}

// ---------------------------------------------------------------------------------------
// 6b. The DI API patterns: their configs, and their commands against a fake API serving the
// example's events (dated 2024: every run here starts at them with --since).

/// The words of the exec input's Command (the `--until "$(date …)"` words are shell, not
/// split meaningfully, and need not be).
fn fluent_bit_pull_argv(cfg: &[Section]) -> Vec<String> {
    plugin(cfg, "INPUT", "exec")
        .get("command")
        .expect("Command")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn fluent_bit_pull_runs_commands_that_end_with_the_di_parser_and_room_for_long_lines() {
    let name = "fluent-bit-pull.conf";
    let c = classic(&dir().join(name));
    let input = plugin(&c, "INPUT", "exec");
    let exec = input.map();
    let argv = fluent_bit_pull_argv(&c);
    assert_eq!((argv[0].as_str(), argv[1].as_str()), (BIN_PATH, "pull"));
    check_api_args(name, &argv, API_KEY);
    let state = arg_after(&argv, "--state").expect("--state");
    assert!(under(parent(state), VAR_DIR), "{name}: --state {state}");
    // Runs that end (its header says why): --until some minutes back, never Oneshot.
    let until = arg_after(&argv, "--until").expect("--until");
    assert!(until.starts_with("\"$(date"), "{name}: --until {until}");
    for k in ["oneshot", "exit_after_oneshot"] {
        assert_ne!(exec.get(k).map(String::as_str), Some("true"), "{name}: {k}");
    }
    // A run (a catch-up can take minutes) must not hold Fluent Bit's engine.
    assert_eq!(exec["threaded"], "true", "{name}: Threaded");
    assert!(
        secs(&exec["interval_sec"]) >= 30.0,
        "{name}: the API polled too often"
    );
    // fgets splits a line longer than the buffer; DI events reach ~77 KB.
    assert!(unit_size(&exec["buf_size"]) >= 100_000, "{name}: Buf_Size");
    classic_parser(&c, &exec["parser"]);
    let out = plugin(&c, "OUTPUT", "stdout").map();
    assert!(glob(&out["match"], &exec["tag"]));
    assert_eq!(out["format"], "json_lines");
    assert_eq!(out["json_date_key"], "false");
    assert!(
        header(name).contains(input.get("command").unwrap()),
        "{name}: header shows the command"
    );
}

/// The example's events as the fake API holds them, the lines in the order it serves them
/// (ms, id), and a `--since` that starts at the first.
fn example_api() -> (Vec<FakeEvent>, Vec<String>, String) {
    let events: Vec<FakeEvent> = example_lines()
        .iter()
        .map(|l| FakeEvent::from_line(std::str::from_utf8(l).unwrap(), None))
        .collect();
    let mut sorted = events.clone();
    sorted.sort_by(|a, b| a.key().cmp(&b.key()));
    let since = to_rfc3339(sorted[0].ts);
    (events, sorted.into_iter().map(|e| e.json).collect(), since)
}

/// An install with the fake API's key where the pull configs read it.
fn install_with_key(tag: &str) -> Installed {
    let inst = install(tag);
    std::fs::write(inst.at(API_KEY), FakeConfig::default().api_key + "\n").unwrap();
    inst
}

/// Wait (bounded) until the fake API has received more than `n` requests.
fn wait_requests(fake: &FakeDi, n: u64) {
    let deadline = Instant::now() + TIMEOUT;
    while fake.request_count() <= n {
        assert!(Instant::now() < deadline, "no request after {TIMEOUT:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn vector_pull_command_prints_the_api_events_once_across_a_stop() {
    let inst = install_with_key("vector-pull");
    let (events, want, since) = example_api();
    let fake = FakeDi::start(events, FakeConfig::default());
    let mut argv = exec_argv(&yaml_at(&inst.at("/etc/jcdetect/vector-pull.yaml")));
    assert_eq!(Path::new(&argv[0]), inst.at(BIN_PATH));
    argv.extend(["--api-url".into(), fake.url(), "--since".into(), since]);
    let mut jc = Live::spawn(&argv[0], &argv[1..]);
    jc.wait_lines(want.len(), "vector-pull events");
    assert_eq!(jc.settle(Duration::from_millis(400)), &want[..]);
    assert!(jc.running(), "the exec source's command polls on");
    stop_and_check_state(&mut jc, &argv);
    // Started again (Vector respawns it, or a restart): on from the cursor, nothing again.
    let before = fake.request_count();
    let mut again = Live::spawn(&argv[0], &argv[1..]);
    wait_requests(&fake, before);
    assert!(again.settle(Duration::from_millis(400)).is_empty());
    stop_and_check_state(&mut again, &argv);
}

#[test]
fn fluent_bit_pull_command_runs_end_and_each_goes_on_from_the_cursor() {
    let inst = install_with_key("fluent-bit-pull");
    let (events, want, since) = example_api();
    let mut times: Vec<i64> = events.iter().map(|e| e.ts).collect();
    times.sort();
    let fake = FakeDi::start(events, FakeConfig::default());
    let cfg = classic(&inst.at("/etc/jcdetect/fluent-bit-pull.conf"));
    let command = plugin(&cfg, "INPUT", "exec").get("command").unwrap();
    let command = format!("{command} --api-url {} --since {since}", fake.url());
    // The runs' clock: `date +%s` says FAKE_NOW; everything else is the real date.
    let bin = inst.tmp.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let date = ["/usr/bin/date", "/bin/date"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("a date program");
    script(
        &bin.join("date"),
        &format!(
            "#!/bin/sh\nif [ \"$1\" = +%s ]; then echo \"$FAKE_NOW\"; else exec {date} \"$@\"; fi\n"
        ),
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // One run as Fluent Bit makes it (/bin/sh -c COMMAND), the API's clock with the runs':
    // it must end by itself, after one poll.
    let run = |now: i64| -> Vec<String> {
        fake.set_now(now * NANOS);
        let env = [format!("PATH={path}"), format!("FAKE_NOW={now}")];
        let mut sh = Live::spawn("env", &[&env[0], &env[1], "sh", "-c", &command]);
        let st = sh.wait_exit();
        assert!(st.success(), "FAKE_NOW={now}: {st:?}\n{}", sh.stderr());
        sh.lines.clone()
    };
    // A run delivers up to 240 s before its clock: the first half of the example, then the
    // rest, then (the same clock again) nothing, without asking the API.
    let secs_of = |ns: i64| ns.div_euclid(NANOS);
    let first = run(secs_of(times[times.len() / 2]) + 240);
    assert!(!first.is_empty() && first.len() < want.len(), "{first:?}");
    let end = secs_of(times[times.len() - 1]) + 1 + 240;
    let second = run(end);
    assert_eq!([first, second].concat(), want, "the two runs together");
    let before = fake.request_count();
    assert!(run(end).is_empty());
    assert_eq!(
        fake.request_count(),
        before,
        "a run after its --until asks nothing"
    );
}

#[test]
fn pull_detect_commands_raise_the_filters_alerts_on_the_api_events() {
    let inst = install_with_key("pull-detect");
    let (events, lines, since) = example_api();
    let until = to_rfc3339(events.iter().map(|e| e.ts).max().unwrap());
    let toml = inst.at(TOML);
    let expected = plain(
        &["--config", toml.to_str().unwrap()],
        (lines.join("\n") + "\n").as_bytes(),
    );
    assert!(!expected.is_empty());
    // The unit reads the key from systemd's credentials directory: one of ours here.
    let creds = inst.tmp.join("credentials");
    std::fs::create_dir_all(&creds).unwrap();
    std::fs::copy(inst.at(API_KEY), creds.join("api-key")).unwrap();
    let unit_file = inst.at(&format!("{UNIT_DIR}/jcdetect-pull.service"));
    let unit_cmd: Vec<String> = unit_argv(&unit(&read_path(&unit_file)))
        .into_iter()
        .map(|a| a.replace("${CREDENTIALS_DIRECTORY}", creds.to_str().unwrap()))
        .collect();
    let vector_cmd = exec_argv(&yaml_at(&inst.at("/etc/jcdetect/vector-pull-detect.yaml")));
    for (what, mut argv) in [
        ("jcdetect-pull.service", unit_cmd),
        ("vector-pull-detect", vector_cmd),
    ] {
        assert_eq!(Path::new(&argv[0]), inst.at(BIN_PATH), "{what}");
        let fake = FakeDi::start(events.clone(), FakeConfig::default());
        // --until: the run ends by itself once it has every event.
        let url = fake.url();
        argv.extend(["--api-url", &url, "--since", &since, "--until", &until].map(String::from));
        let mut jc = Live::spawn(&argv[0], &argv[1..]);
        let st = jc.wait_exit();
        assert!(st.success(), "{what}: {st:?}\n{}", jc.stderr());
        assert_eq!(jc.lines, expected, "{what}: the alerts");
        let state = PathBuf::from(arg_after(&argv, "--state").unwrap());
        assert!(state.is_file(), "{what}: no {}", state.display());
        // The state holds the cursor: run again, nothing is asked and nothing raised.
        let before = fake.request_count();
        let mut again = Live::spawn(&argv[0], &argv[1..]);
        assert!(again.wait_exit().success(), "{what}: {}", again.stderr());
        assert!(again.lines.is_empty(), "{what}: {:?}", again.lines);
        assert_eq!(fake.request_count(), before, "{what}");
        std::fs::remove_file(&state).unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// 7. run.sh, with stand-ins for fluent-bit and vector.

/// How the stand-in's collect stage behaves.
#[derive(Clone, Copy)]
enum Collect {
    /// Print the DI log named in its config, then exit 0.
    Print,
    /// Print it, then run until SIGTERM (exit 0), like a tailing collector.
    PrintThenWait,
    /// Print nothing; run until SIGTERM.
    Wait,
}

/// How the stand-in's ship stage behaves.
#[derive(Clone, Copy)]
enum Ship {
    /// Store stdin, exit at its end.
    Store,
    /// Store stdin, then run until SIGTERM.
    StoreThenWait,
}

struct Stub {
    host: PathBuf,
    shipped: PathBuf,
    calls: PathBuf,
    tmpdir: PathBuf,
}

/// A stand-in `fluent-bit` / `vector`: checks it got an installed config, reads the DI log
/// path from the collect config and prints that file, stores what the ship stage reads, and
/// records the arguments of the patterns that exec the host.
fn stub(inst: &Installed, collect: Collect, ship: Ship) -> Stub {
    let etc = inst.at(ETC_DIR);
    let etc = etc.display();
    let shipped = inst.tmp.join("shipped.ndjson");
    let calls = inst.tmp.join("calls");
    let tmpdir = inst.tmp.join("tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    let wait = "trap 'kill $s 2>/dev/null; exit 0' TERM\n\
                sleep 30 </dev/null >/dev/null 2>&1 &\ns=$!\nwait $s\nexit 0";
    let print = "[ -f \"$log\" ] || { echo \"stub: no DI log '$log' in $2\" >&2; exit 9; }\n\
                 cat \"$log\"";
    let collect = match collect {
        Collect::Print => format!("{print}\nexit 0"),
        Collect::PrintThenWait => format!("{print}\n{wait}"),
        Collect::Wait => wait.to_string(),
    };
    let ship = match ship {
        Ship::Store => format!("cat > '{}'\nexit 0", shipped.display()),
        Ship::StoreThenWait => format!("cat > '{}'\n{wait}", shipped.display()),
    };
    let host = inst.tmp.join("host-stub");
    script(
        &host,
        &format!(
            "#!/bin/sh\n\
             s=\n\
             case \"$1\" in -c|--config) ;; *) echo \"stub: unexpected args: $*\" >&2; exit 9 ;; esac\n\
             [ -f \"$2\" ] || {{ echo \"stub: no config $2\" >&2; exit 9; }}\n\
             case \"$2\" in\n\
             '{etc}/fluent-bit-collect.conf')\n\
             log=$(awk '$1 == \"Path\" {{ print $2 }}' \"$2\")\n{collect} ;;\n\
             '{etc}/vector-pipe.yaml')\n\
             log=$(sed -n '/^ *include:/{{n;s/^ *- *//p;}}' \"$2\")\n{collect} ;;\n\
             '{etc}/fluent-bit-ship.conf'|'{etc}/vector-pipe-ship.yaml')\n{ship} ;;\n\
             *) echo \"$(basename \"$0\") $*\" >> '{calls}'; exit 0 ;;\n\
             esac\n",
            calls = calls.display(),
        ),
    );
    Stub {
        host,
        shipped,
        calls,
        tmpdir,
    }
}

/// Start the installed run.sh PATTERN ARGS with the stand-in as fluent-bit and vector (and
/// optionally another jcdetect); JCDETECT_ETC/VAR/LOG unset, so its own defaults apply.
fn run_sh(inst: &Installed, stub: &Stub, jcdetect: Option<&Path>, args: &[&str]) -> Live {
    let mut argv: Vec<String> = [
        "-u",
        "JCDETECT_ETC",
        "-u",
        "JCDETECT_VAR",
        "-u",
        "JCDETECT_LOG",
    ]
    .map(String::from)
    .into();
    match jcdetect {
        Some(j) => argv.push(format!("JCDETECT={}", j.display())),
        None => argv.extend(["-u".into(), "JCDETECT".into()]),
    }
    argv.push(format!("FLUENT_BIT={}", stub.host.display()));
    argv.push(format!("VECTOR={}", stub.host.display()));
    argv.push(format!("TMPDIR={}", stub.tmpdir.display()));
    argv.push(inst.at(RUN_SH).display().to_string());
    argv.extend(args.iter().map(|a| a.to_string()));
    Live::spawn("env", &argv)
}

fn shipped_lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// After run.sh ended: its fifo directory is gone.
fn assert_cleaned_up(stub: &Stub) {
    let left: Vec<_> = std::fs::read_dir(&stub.tmpdir).unwrap().collect();
    assert!(left.is_empty(), "run.sh left {left:?} in TMPDIR");
}

#[test]
fn run_sh_pipes_collect_jcdetect_ship_for_both_hosts() {
    let expected = expected_alerts();
    for pattern in ["fluent-bit-pipe", "vector-pipe"] {
        let inst = install(pattern);
        let stub = stub(&inst, Collect::Print, Ship::Store);
        let mut run = run_sh(&inst, &stub, None, &[pattern]);
        let st = run.wait_exit();
        assert!(st.success(), "{pattern}: {st:?}\n{}", run.stderr());
        assert_eq!(
            shipped_lines(&stub.shipped),
            expected,
            "{pattern}: shipped alerts"
        );
        let state = inst.at(&format!("{VAR_DIR}/{pattern}.state"));
        assert!(state.is_file(), "{pattern}: no {}", state.display());
        assert!(
            !stub.calls.exists(),
            "{pattern}: the host was run as a whole"
        );
        assert_cleaned_up(&stub);
    }
    // JCDETECT OPTIONS reach jcdetect.
    let inst = install("vector-pipe-ocsf");
    let stub = stub(&inst, Collect::Print, Ship::Store);
    let mut run = run_sh(&inst, &stub, None, &["vector-pipe", "--format", "ocsf"]);
    assert!(run.wait_exit().success(), "{}", run.stderr());
    let ocsf = plain(
        &["--format", "ocsf"],
        &std::fs::read(example_path()).unwrap(),
    );
    assert_ne!(ocsf, expected);
    assert_eq!(shipped_lines(&stub.shipped), ocsf);
}

#[test]
fn run_sh_execs_the_host_with_the_installed_config_for_single_process_patterns() {
    let inst = install("run-exec");
    let stub = stub(&inst, Collect::Print, Ship::Store);
    let etc = inst.at(ETC_DIR);
    for (pattern, want) in [
        (
            "fluent-bit-wasm",
            format!("-c {}/fluent-bit-wasm.yaml", etc.display()),
        ),
        (
            "vector-exec",
            format!("--config {}/vector-exec.yaml", etc.display()),
        ),
        (
            "vector-sandwich",
            format!("--config {}/vector-sandwich.yaml", etc.display()),
        ),
        (
            "vector-pull",
            format!("--config {}/vector-pull.yaml", etc.display()),
        ),
        (
            "vector-pull-detect",
            format!("--config {}/vector-pull-detect.yaml", etc.display()),
        ),
        (
            "fluent-bit-pull",
            format!("-c {}/fluent-bit-pull.conf", etc.display()),
        ),
    ] {
        let _ = std::fs::remove_file(&stub.calls);
        let mut run = run_sh(&inst, &stub, None, &[pattern]);
        let st = run.wait_exit();
        assert!(st.success(), "{pattern}: {st:?}\n{}", run.stderr());
        let calls = read_path(&stub.calls);
        assert_eq!(calls.trim(), format!("host-stub {want}"), "{pattern}");
    }
    assert!(!stub.shipped.exists());
}

#[test]
fn run_sh_stops_a_pipe_in_order_on_sigterm() {
    let expected = expected_alerts();
    for pattern in ["fluent-bit-pipe", "vector-pipe"] {
        let inst = install(&format!("{pattern}-stop"));
        let stub = stub(&inst, Collect::PrintThenWait, Ship::Store);
        let mut run = run_sh(&inst, &stub, None, &[pattern]);
        // The alerts reach the ship stage while the collect stage still runs.
        let deadline = Instant::now() + TIMEOUT;
        while shipped_lines(&stub.shipped).len() < expected.len() {
            assert!(
                Instant::now() < deadline,
                "{pattern}: {} of {} alerts shipped\n{}",
                shipped_lines(&stub.shipped).len(),
                expected.len(),
                run.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            run.running(),
            "{pattern}: run.sh ended before it was stopped"
        );
        let state = inst.at(&format!("{VAR_DIR}/{pattern}.state"));
        assert!(!state.exists(), "{pattern}: state written before the stop");
        run.signal("TERM");
        let st = run.wait_exit();
        assert_eq!(st.code(), Some(0), "{pattern}: {st:?}\n{}", run.stderr());
        assert_eq!(shipped_lines(&stub.shipped), expected, "{pattern}: shipped");
        assert!(
            state.is_file(),
            "{pattern}: no {} after the stop",
            state.display()
        );
        assert!(run.stderr().contains("stopping"), "{}", run.stderr());
        assert_cleaned_up(&stub);
    }
}

#[test]
fn run_sh_fails_when_jcdetect_dies_before_the_collect_stage() {
    let inst = install("jcdetect-dies");
    let stub = stub(&inst, Collect::Wait, Ship::StoreThenWait);
    let dying = inst.tmp.join("dying-jcdetect");
    script(&dying, "#!/bin/sh\nexit 3\n");
    let mut run = run_sh(&inst, &stub, Some(&dying), &["vector-pipe"]);
    let st = run.wait_exit();
    assert_eq!(st.code(), Some(1), "{st:?}\n{}", run.stderr());
    let err = run.stderr();
    assert!(
        err.lines()
            .any(|l| l.starts_with("run.sh: jcdetect") && l.contains("status 3")),
        "run.sh names jcdetect and its status:\n{err}"
    );
    assert!(shipped_lines(&stub.shipped).is_empty());
    assert_cleaned_up(&stub);
}
