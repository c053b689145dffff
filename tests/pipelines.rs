//! `pipeline-configs/`: every file parses, names only files, commands and exports that exist,
//! and every jcdetect command line in it runs and produces the plain filter's alerts.

#[path = "common/live.rs"]
mod live;

use live::{example_lines, example_path, plain, Live, TempDir, BIN};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Where `wasm/build.sh` writes the Fluent Bit module, and its export.
const WASM_MODULE: &str = "wasm/target/fluentbit/wasm32-wasip1/release/jcdetect_wasm.wasm";
const WASM_EXPORT: &str = "jcdetect_filter";
/// Where the Fluent Bit module looks for its optional jcdetect.toml.
const CONFIG_DIR: &str = "/etc/jcdetect";
/// The only absolute paths the configs may use: the documented DI log location.
const DEPLOYMENT_DIR: &str = "/var/log/jumpcloud/";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn dir() -> PathBuf {
    root().join("pipeline-configs")
}

fn read(name: &str) -> String {
    let p = dir().join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn yaml(name: &str) -> Value {
    serde_norway::from_str(&read(name)).unwrap_or_else(|e| panic!("{name}: bad YAML: {e}"))
}

fn files() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir())
        .expect("pipeline-configs/")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
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
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
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

/// The leading comment block of a file (`#` lines, a shebang skipped).
fn header(name: &str) -> String {
    read(name)
        .lines()
        .skip_while(|l| l.starts_with("#!"))
        .take_while(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim())
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------------

#[test]
fn every_file_parses_and_says_what_it_does_and_how_to_run_it() {
    let names = files();
    for expected in [
        "README.md",
        "fluent-bit-wasm.yaml",
        "fluent-bit-wasm.conf",
        "fluent-bit-pipe.sh",
        "fluent-bit-collect.conf",
        "fluent-bit-ship.conf",
        "vector-pipe.yaml",
        "vector-pipe-ship.yaml",
        "vector-exec.yaml",
        "vector-sandwich.yaml",
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
            "toml" => {
                jcdetect::Config::from_toml_str(&read(name))
                    .unwrap_or_else(|e| panic!("{name}: not a jcdetect config: {e}"));
            }
            "sh" => {
                let st = Command::new("bash").arg("-n").arg(&path).status().unwrap();
                assert!(st.success(), "{name}: bash -n failed");
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
                    assert!(mode & 0o111 != 0, "{name} is not executable");
                }
            }
            other => panic!("{name}: no check for .{other} files; add one"),
        }
        let h = header(name);
        assert!(
            h.starts_with(&format!("pipeline-configs/{name}")),
            "{name}: header names the file"
        );
        assert!(
            h.contains("What it does"),
            "{name}: header says what it does"
        );
        assert!(
            h.contains("How to run it") || h.contains("How to use it"),
            "{name}: header says how to run it"
        );
    }
}

#[test]
fn every_path_named_in_a_header_exists() {
    for name in files() {
        let text = read(&name);
        for word in text.split(|c: char| c.is_whitespace() || "`'\"(),|".contains(c)) {
            let word = word.trim_end_matches([':', '.']);
            if word.starts_with("pipeline-configs/") || word.starts_with("wasm/build.sh") {
                if word == "wasm/build.sh" {
                    // Built by another part of the project: checked when present.
                    continue;
                }
                assert!(
                    root().join(word).exists(),
                    "{name} names {word}, which does not exist"
                );
            }
        }
    }
}

#[test]
fn absolute_paths_are_only_the_documented_di_log_and_config_dir() {
    let mut values = Vec::new();
    for name in files() {
        let path = dir().join(&name);
        if name.ends_with(".yaml") {
            strings(&yaml(&name), &mut values);
        } else if name.ends_with(".conf") {
            values.extend(
                classic(&path)
                    .into_iter()
                    .flat_map(|s| s.entries)
                    .map(|(_, v)| v),
            );
        }
    }
    for v in values.iter().filter(|v| v.starts_with('/')) {
        assert!(
            v.starts_with(DEPLOYMENT_DIR) || v == CONFIG_DIR,
            "absolute path `{v}` outside {DEPLOYMENT_DIR} and {CONFIG_DIR}"
        );
    }
    // Relative paths are relative to the repository root (the headers say: run from there).
    for v in values.iter().filter(|v| v.starts_with("pipeline-configs/")) {
        assert!(root().join(v).exists(), "{v} does not exist");
    }
}

// ---------------------------------------------------------------------------------------
// Fluent Bit

#[test]
fn fluent_bit_wasm_configs_agree_and_name_the_module_and_its_export() {
    let y = yaml("fluent-bit-wasm.yaml");
    let c = classic(&dir().join("fluent-bit-wasm.conf"));
    let yf = yaml_plugin(&y, "filters", "wasm");
    let cf = plugin(&c, "FILTER", "wasm").map();
    // Same settings in both formats (classic writes `WASM_Path`: keys are case-insensitive).
    assert_eq!(yf, cf, "the YAML and classic wasm filters differ");
    assert_eq!(cf["function_name"], WASM_EXPORT);
    assert_eq!(cf["event_format"], "json");
    assert_eq!(cf["wasm_path"], WASM_MODULE);
    assert_eq!(unit_size(&cf["wasm_heap_size"]), 4_000_000);
    assert_eq!(unit_size(&cf["wasm_stack_size"]), 1_000_000);
    // Fluent Bit's runtime shows each Accessible_Paths directory to the module under its own
    // name, so the directory must be one the module searches for jcdetect.toml.
    let searched = std::fs::read_to_string(root().join("wasm/src/host.rs")).unwrap_or_default();
    for p in cf["accessible_paths"].split(',') {
        let want = format!("\"{}/jcdetect.toml\"", p.trim());
        assert!(
            searched.contains(&want),
            "Accessible_Paths {p}: the module does not look for {want}"
        );
    }
    for name in ["fluent-bit-wasm.yaml", "fluent-bit-wasm.conf"] {
        let h = header(name);
        assert!(
            h.contains("wasm/build.sh"),
            "{name}: say how to build the module"
        );
        assert!(
            h.contains(">= 4.2.0"),
            "{name}: say which Fluent Bit is needed"
        );
    }
    // The module side, once the wasm/ crate is in this tree.
    let build = root().join("wasm/build.sh");
    if build.exists() {
        let script = std::fs::read_to_string(&build).unwrap();
        assert!(
            script.contains("wasm32-wasip1") && script.contains("release"),
            "wasm/build.sh must build {WASM_MODULE}"
        );
        // The Fluent Bit module is the SIMD-free build (Fluent Bit's WAMR has SIMD off).
        assert!(
            script.contains("-simd128") && script.contains("target/fluentbit"),
            "wasm/build.sh must build {WASM_MODULE} without SIMD"
        );
        let export = format!("fn {WASM_EXPORT}(");
        let exported = std::fs::read_dir(root().join("wasm/src"))
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
            .any(|src| src.contains(&export) && src.contains("#[no_mangle]"));
        assert!(exported, "wasm/src must export {WASM_EXPORT}");
    } else {
        eprintln!("note: wasm/build.sh is not in this tree; module checks skipped");
    }

    // The same input and output in both; the filter and the output match the input's tag.
    let yt = yaml_plugin(&y, "inputs", "tail");
    let ct = plugin(&c, "INPUT", "tail").map();
    assert_eq!(yt, ct, "the YAML and classic tail inputs differ");
    assert!(glob(&cf["match"], &ct["tag"]));
    let yo = yaml_plugin(&y, "outputs", "stdout");
    let co = plugin(&c, "OUTPUT", "stdout").map();
    assert_eq!(yo, co);
    assert!(glob(&co["match"], &ct["tag"]));
    // The tail parser is defined: inline in YAML, in the Parsers_File for classic.
    let parsers: Vec<String> = y["parsers"]
        .as_array()
        .expect("parsers")
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert!(parsers.contains(&yt["parser"]));
    check_classic_parser(&c, &ct["parser"]);
}

fn check_classic_parser(cfg: &[Section], parser: &str) {
    let service = sections(cfg, "SERVICE");
    let file = service[0].get("parsers_file").expect("Parsers_File");
    let parsers = classic(&root().join(file));
    assert!(
        sections(&parsers, "PARSER")
            .iter()
            .any(|p| p.get("name") == Some(parser) && p.get("format") == Some("json")),
        "{file} must define the json parser `{parser}`"
    );
}

#[test]
fn fluent_bit_pipe_halves_print_plain_ndjson_and_read_long_lines() {
    let collect = classic(&dir().join("fluent-bit-collect.conf"));
    let tail = plugin(&collect, "INPUT", "tail");
    assert!(unit_size(tail.get("buffer_max_size").unwrap()) >= 100_000);
    assert_eq!(tail.get("skip_long_lines"), Some("On"));
    check_classic_parser(&collect, tail.get("parser").unwrap());
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

#[test]
fn fluent_bit_pipe_script_runs_collect_jcdetect_ship() {
    // A stand-in `fluent-bit`: the collect half prints the example, the ship half stores
    // what it reads. The script, its config paths and jcdetect run for real.
    let tmp = TempDir::new("fb-pipe");
    let stub = tmp.join("fluent-bit");
    let shipped = tmp.join("shipped.ndjson");
    std::fs::write(
        &stub,
        format!(
            "#!/bin/sh\n[ \"$1\" = -c ] && [ -f \"$2\" ] || {{ echo \"no config: $2\" >&2; exit 9; }}\n\
             case \"$2\" in\n  *collect.conf) cat '{}' ;;\n  *ship.conf) cat > '{}' ;;\n  *) exit 8 ;;\nesac\n",
            example_path().display(),
            shipped.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = Command::new(dir().join("fluent-bit-pipe.sh"))
        .arg("--quiet")
        .env("FLUENT_BIT", &stub)
        .env("JCDETECT", BIN)
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<String> = std::fs::read_to_string(&shipped)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(got, plain(&[], &std::fs::read(example_path()).unwrap()));
    assert!(!got.is_empty());
}

// ---------------------------------------------------------------------------------------
// Vector

fn vector_configs() -> Vec<String> {
    files()
        .into_iter()
        .filter(|f| f.starts_with("vector-"))
        .collect()
}

#[test]
fn vector_configs_wire_up_and_use_the_documented_codecs() {
    for name in vector_configs() {
        let cfg = yaml(&name);
        let mut ids = Vec::new();
        for kind in ["sources", "transforms"] {
            if let Some(m) = cfg[kind].as_object() {
                ids.extend(m.keys().cloned());
            }
        }
        for kind in ["transforms", "sinks"] {
            for (id, c) in cfg[kind].as_object().into_iter().flatten() {
                let inputs = c["inputs"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{name}: {id} has no inputs"));
                for i in inputs {
                    assert!(
                        ids.contains(&i.as_str().unwrap().to_string()),
                        "{name}: {id} reads unknown {i}"
                    );
                }
            }
        }
        for (id, c) in cfg["sources"].as_object().expect("sources").iter() {
            match c["type"].as_str().unwrap() {
                "exec" => {
                    assert_eq!(c["mode"], "streaming", "{name}: {id}");
                    assert_eq!(c["include_stderr"], false, "{name}: {id}");
                    assert_eq!(c["decoding"]["codec"], "json", "{name}: {id}");
                    assert_eq!(c["command"][0], "jcdetect", "{name}: {id}");
                }
                "stdin" => assert_eq!(c["decoding"]["codec"], "json", "{name}: {id}"),
                "file" => {}
                other => panic!("{name}: unexpected source type {other}"),
            }
        }
        for (id, c) in cfg["sinks"].as_object().expect("sinks").iter() {
            assert_eq!(c["encoding"]["codec"], "json", "{name}: {id}");
            if c["type"] == "socket" {
                assert_eq!(c["mode"], "tcp");
                assert_eq!(c["framing"]["method"], "newline_delimited");
            }
        }
    }
    // The pipe: collect ends in a console sink, ship starts with stdin.
    assert_eq!(
        yaml("vector-pipe.yaml")["sinks"]["to_jcdetect"]["type"],
        "console"
    );
    assert_eq!(
        yaml("vector-pipe-ship.yaml")["sources"]["alerts_in"]["type"],
        "stdin"
    );
    // The sandwich's socket sink goes where its jcdetect listens.
    let s = yaml("vector-sandwich.yaml");
    let argv = exec_argv(&s);
    let at = argv.iter().position(|a| a == "--listen").expect("--listen");
    assert_eq!(s["sinks"]["to_jcdetect"]["address"], argv[at + 1]);
    assert!(argv[at + 1].starts_with("127.0.0.1:"), "loopback only");
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

/// Replace the program with the built binary and every absolute path with a temp copy of
/// the example; `--listen ADDR` gets port 0 (the bound address is read from stderr).
fn localize(argv: &[String], tmp: &TempDir) -> Vec<String> {
    assert_eq!(argv[0], "jcdetect");
    let mut out = vec![BIN.to_string()];
    let mut prev = "";
    for a in &argv[1..] {
        if prev == "--listen" {
            out.push("127.0.0.1:0".into());
        } else if a.starts_with('/') {
            let p = tmp.join("di.ndjson");
            std::fs::copy(example_path(), &p).unwrap();
            out.push(p.to_str().unwrap().to_string());
        } else {
            out.push(a.clone());
        }
        prev = a;
    }
    out
}

#[test]
fn vector_exec_command_follows_the_file_and_prints_the_filters_alerts() {
    let argv = exec_argv(&yaml("vector-exec.yaml"));
    assert!(argv.contains(&"--follow".to_string()));
    let tmp = TempDir::new("vector-exec");
    let argv = localize(&argv, &tmp);
    let expected = plain(&[], &std::fs::read(example_path()).unwrap());
    let mut jc = Live::spawn(&argv[0], &argv[1..]);
    jc.wait_lines(expected.len(), "vector-exec alerts");
    assert_eq!(jc.settle(Duration::from_millis(400)), &expected[..]);
    assert!(jc.running(), "the exec source's command keeps running");
}

#[test]
fn vector_sandwich_command_listens_and_prints_the_filters_alerts() {
    let argv = exec_argv(&yaml("vector-sandwich.yaml"));
    let tmp = TempDir::new("vector-sandwich");
    let argv = localize(&argv, &tmp);
    let expected = plain(&[], &std::fs::read(example_path()).unwrap());
    let mut jc = Live::spawn(&argv[0], &argv[1..]);
    let addr = jc.listen_addr();
    // What Vector's socket sink sends: one JSON event per line.
    let mut sock = TcpStream::connect(addr).unwrap();
    sock.write_all(&example_lines().concat()).unwrap();
    drop(sock);
    jc.wait_lines(expected.len(), "vector-sandwich alerts");
    assert_eq!(jc.settle(Duration::from_millis(400)), &expected[..]);
    assert!(jc.running());
}
