//! The command line, table-driven: one case a line, each run through the binary. Usage errors
//! (exit 2, the command's usage, a pointer to `--help`, a hint for a misspelt option) are
//! told apart from setup errors (exit 2 too, but a bad FILE or config: no usage, no pointer).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_jcdetect");

/// Placeholders in a case's arguments.
const EX: &str = "@example";
/// A copy of the example under a name that is not UTF-8 (`events-\xff.ndjson`).
const NON_UTF8: &str = "@non-utf8";
const MISSING: &str = "@missing";
const BAD_TOML: &str = "@bad-toml";
/// A config whose values are wrong, each at a known line and column.
const BAD_VALUES: &str = "@bad-values";

/// What stdout must be.
enum Out {
    Empty,
    /// The same bytes as a run with these arguments.
    Like(&'static [&'static str]),
    /// Holds this text.
    Has(&'static str),
}
use Out::{Empty, Has, Like};

/// (arguments, exit status, stdout, stderr holds each, stderr holds none of)
type Case = (
    &'static [&'static str],
    i32,
    Out,
    &'static [&'static str],
    &'static [&'static str],
);

/// The top-level usage, which a subcommand's usage error must not print.
const TOP_USAGE: &str = "jcdetect [OPTIONS] --follow FILE";

#[rustfmt::skip]
const CASES: &[Case] = &[
    // Combined short flags, `--opt=value`, a file name that is not UTF-8.
    (&["-qf", "ocsf", EX],             0, Like(&["--format", "ocsf", EX]), &[],                    &["jcdetect:"]),
    (&["-qe", "all", "-f", "ocsf", EX], 0, Like(&["--emit", "all", "--format", "ocsf", EX]), &[], &["jcdetect:"]),
    (&["--format=ocsf", EX],           0, Like(&["--format", "ocsf", EX]), &["summary: 32 lines"], &[]),
    (&["--emit=all", "-q", EX],        0, Like(&["--emit", "all", EX]),    &[],                    &[]),
    (&[NON_UTF8],                      0, Like(&[EX]),                     &["summary: 32 lines"], &[]),
    (&["--", NON_UTF8],                0, Like(&[EX]),                     &[],                    &[]),
    // Usage errors: exit 2, a hint, the usage of the command at fault, a pointer to --help.
    (&["--formt", "ocsf", EX],         2, Empty, &["jcdetect: unexpected argument '--formt'", "similar argument exists: '--format'", "--help"], &[]),
    (&["--emit", "some", EX],          2, Empty, &["invalid value 'some'", "possible values: alerts, all"], &[]),
    (&["generate", "--event", "10"],   2, Empty, &["similar argument exists: '--events'", "Usage: jcdetect generate"], &[TOP_USAGE]),
    (&["generate", "--bogus"],         2, Empty, &["unexpected argument '--bogus'", "Usage: jcdetect generate", "--help"], &[TOP_USAGE]),
    (&["bench", "--bogus", EX],        2, Empty, &["unexpected argument '--bogus'", "Usage: jcdetect bench"], &[TOP_USAGE]),
    (&["rules", "--jsn"],              2, Empty, &["similar argument exists: '--json'", "Usage: jcdetect rules"], &[TOP_USAGE]),
    (&["completions", "tcsh"],         2, Empty, &["invalid value 'tcsh'", "bash"], &[]),
    // Setup errors: exit 2 without the usage or a pointer to --help (the arguments were fine).
    (&[EX, MISSING],                   2, Empty, &["jcdetect: cannot open ", "does-not-exist.ndjson"], &["--help", "Usage:"]),
    (&["--config", MISSING, EX],       2, Empty, &["jcdetect: cannot read config "], &["--help", "Usage:"]),
    (&["--config", BAD_TOML, EX],      2, Empty, &["jcdetect: ", "bad.toml:1:7: TOML syntax"], &["--help", "Usage:"]),
    (&["--config", BAD_VALUES, EX],    2, Empty, &["bad-values.toml:2:13: rules.password_spray_from_ip.threshold: 5000 is above the limit 1000\n", "bad-values.toml:4:13: state.memory_mb: "], &["--help", "Usage:"]),
    (&["bench", MISSING],              2, Empty, &["jcdetect: cannot read "], &["--help", "Usage:"]),
    // Help, per command, and shell completions.
    (&["generate", "--help"],          0, Has("--attack-mix"), &[], &[]),
    (&["bench", "--help"],             0, Has("--repeat"),     &[], &[]),
    (&["rules", "-h"],                 0, Has("--json"),       &[], &[]),
    (&["completions", "bash"],         0, Has("complete -F _jcdetect"), &[], &[]),
    (&["completions", "zsh"],          0, Has("#compdef jcdetect"), &[], &[]),
    (&["completions", "fish"],         0, Has("complete -c jcdetect"), &[], &[]),
];

struct Fixture {
    dir: PathBuf,
}

impl Fixture {
    fn new(tag: &str) -> Fixture {
        let dir =
            std::env::temp_dir().join(format!("jcdetect-cli-args-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(example(), dir.join(non_utf8_name())).unwrap();
        std::fs::write(dir.join("bad.toml"), "[rules\n").unwrap();
        std::fs::write(
            dir.join("bad-values.toml"),
            "[rules.password_spray_from_ip]\nthreshold = 5000\n[state]\nmemory_mb = \"x\"\n",
        )
        .unwrap();
        Fixture { dir }
    }

    fn arg(&self, a: &str) -> OsString {
        match a {
            EX => example().into(),
            NON_UTF8 => self.dir.join(non_utf8_name()).into(),
            MISSING => self.dir.join("does-not-exist.ndjson").into(),
            BAD_TOML => self.dir.join("bad.toml").into(),
            BAD_VALUES => self.dir.join("bad-values.toml").into(),
            a => a.into(),
        }
    }

    fn run(&self, args: &[&str]) -> (i32, Vec<u8>, String) {
        let out = Command::new(BIN)
            .args(args.iter().map(|a| self.arg(a)))
            .output()
            .unwrap();
        (
            out.status.code().expect("exited"),
            out.stdout,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/example.ndjson")
}

#[cfg(unix)]
fn non_utf8_name() -> &'static OsStr {
    use std::os::unix::ffi::OsStrExt;
    OsStr::from_bytes(b"events-\xff.ndjson")
}

#[cfg(not(unix))]
fn non_utf8_name() -> &'static OsStr {
    OsStr::new("events-non-utf8.ndjson")
}

#[test]
fn every_case() {
    let fx = Fixture::new("cases");
    for (args, code, stdout, has, lacks) in CASES {
        let (got, out, err) = fx.run(args);
        let what = format!("jcdetect {args:?}\nstderr:\n{err}");
        assert_eq!(got, *code, "exit status of {what}");
        assert!(!err.contains("panicked"), "{what}");
        match stdout {
            Empty => assert!(out.is_empty(), "no stdout from {what}"),
            Like(other) => {
                let (c, want, _) = fx.run(other);
                assert_eq!(c, 0, "{other:?}");
                assert!(!want.is_empty(), "{other:?} writes something");
                assert!(out == want, "stdout of {what}\nis not that of {other:?}");
            }
            Has(text) => assert!(
                String::from_utf8_lossy(&out).contains(text),
                "`{text}` in the stdout of {what}"
            ),
        }
        for h in *has {
            assert!(err.contains(h), "`{h}` in the stderr of {what}");
        }
        for l in *lacks {
            assert!(!err.contains(l), "no `{l}` in the stderr of {what}");
        }
    }
}

/// Every stderr line the filter writes has the one style: `jcdetect: ...`.
#[test]
fn stderr_has_one_style() {
    let fx = Fixture::new("style");
    let (code, _, err) = fx.run(&[EX, "--max-line-bytes", "100"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("jcdetect: warning: "), "{err}");
    for line in err.lines() {
        assert!(line.starts_with("jcdetect: "), "`{line}` in:\n{err}");
    }
}
