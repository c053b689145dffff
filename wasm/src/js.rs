//! The wasm-bindgen `Detector` class (feature `js`, wasm32-unknown-unknown). Config comes in
//! and records go out as JSON text through the JS engine's own `JSON`, so the values are
//! exactly the CLI's.

use crate::jsconfig;
use jcdetect::{Diagnostic, Engine};
use js_sys::{Array, JSON};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r#"
export type Severity = "informational" | "low" | "medium" | "high" | "critical";

/** Overrides for one rule: `enabled`, `severity` and the rule's parameters (see `jcdetect rules --json`). */
export interface RuleConfig {
  enabled?: boolean;
  severity?: Severity;
  [parameter: string]: boolean | number | string | string[] | undefined;
}

/** The TOML config of the CLI as an object, plus the CLI's `--format` and `--emit`. */
export interface DetectorConfig {
  /** Built-in rule overrides by id; `sigma`: Sigma rule files' texts (docs/sigma.md); `builtin: false` runs only those. */
  rules?: { sigma?: string[]; builtin?: boolean } & { [ruleId: string]: RuleConfig | string[] | boolean | undefined };
  allowlist?: { ips?: string[]; users?: string[]; countries?: string[] };
  state?: { memory_mb?: number; allowed_lateness_secs?: number };
  /** Alert format (default "ecs"). */
  format?: "ecs" | "ocsf";
  /** "alerts" (default), or "all": every event too, tagged with a `jcdetect` object. */
  emit?: "alerts" | "all";
}

/** An ECS alert (format "ecs"). */
export interface EcsAlert {
  "@timestamp"?: string;
  event: { kind: "alert"; id: string; severity: number; risk_score: number; action?: string; reason: string; [k: string]: unknown };
  message: string;
  rule: { id: string; uuid?: string; name: string; description: string; ruleset: "jcdetect" | "sigma"; version: string; reference?: string };
  [k: string]: unknown;
}

/** An OCSF Detection Finding (format "ocsf", class_uid 2004). */
export interface OcsfFinding {
  class_uid: 2004;
  severity_id: number;
  severity: string;
  time?: number;
  message: string;
  finding_info: { [k: string]: unknown };
  [k: string]: unknown;
}

/** With emit "all": an input event with an added `jcdetect` object; a rejected line comes back as its text. */
export interface TaggedEvent {
  jcdetect: { category: string; rules: string[] };
  [k: string]: unknown;
}

export type JcdetectRecord = EcsAlert | OcsfFinding | TaggedEvent | string;

/** One bad-input report. */
export interface Diagnostic { line: number; code: string; detail: string }

/** The run counters: the document `jcdetect --stats-json` writes. */
export interface Stats {
  lines: number;
  events: number;
  bad_lines: number;
  diagnostics: { [code: string]: number };
  alerts_total: number;
  alerts: { [ruleId: string]: number };
  allowlisted: number;
  late_events: number;
  suppressed: number;
  state: { bytes: number; evictions: { [table: string]: number }; capacity: { [table: string]: number } };
}
"#;

#[wasm_bindgen]
extern "C" {
    /// A `DetectorConfig` object (an imported type, so the parameter is typed and optional).
    #[wasm_bindgen(typescript_type = "DetectorConfig")]
    pub type DetectorConfigJs;
}

/// Diagnostics kept between two `diagnostics()` calls.
const MAX_PENDING_DIAGS: usize = 1000;

/// A stateful detector: feed it DI events, get alerts back.
#[wasm_bindgen]
pub struct Detector {
    engine: Engine,
    out: Vec<u8>,
    diags: Vec<Diagnostic>,
    pending: Vec<Diagnostic>,
}

fn config_error(e: &jcdetect::ConfigError) -> JsValue {
    js_sys::Error::new(&jsconfig::error_json(e)).into()
}

#[wasm_bindgen]
impl Detector {
    /// Build a detector. Throws an `Error` whose message is JSON
    /// (`{"error":"config","message":...,"problems":[...]}`) when the config is invalid.
    #[wasm_bindgen(constructor)]
    pub fn new(config: Option<DetectorConfigJs>) -> Result<Detector, JsValue> {
        let text = match config {
            None => "null".to_string(),
            Some(config) => {
                // Throws on cycles and BigInts: pass that error on as a config error.
                let s = JSON::stringify(&config).map_err(|e| {
                    let msg = js_sys::Error::from(e).message();
                    config_error(&jcdetect::ConfigError::new([format!(
                        "cannot serialize the config: {msg}"
                    )]))
                })?;
                String::from(s)
            }
        };
        let (cfg, opts) = jsconfig::parse(&text).map_err(|e| config_error(&e))?;
        Ok(Detector {
            engine: Engine::new(&cfg, opts),
            out: Vec::new(),
            diags: Vec::new(),
            pending: Vec::new(),
        })
    }

    /// Process one line (a newline is added), returning its output records in order.
    #[wasm_bindgen(unchecked_return_type = "JcdetectRecord[]")]
    pub fn push(&mut self, line: &str) -> Result<Array, JsValue> {
        self.out.clear();
        self.engine
            .feed(line.as_bytes(), &mut self.out, &mut self.diags);
        self.engine.feed(b"\n", &mut self.out, &mut self.diags);
        self.records()
    }

    /// Process NDJSON text; a partial last line waits for the next call or `flush()`.
    #[wasm_bindgen(js_name = pushBatch, unchecked_return_type = "JcdetectRecord[]")]
    pub fn push_batch(&mut self, text: &str) -> Result<Array, JsValue> {
        self.out.clear();
        self.engine
            .feed(text.as_bytes(), &mut self.out, &mut self.diags);
        self.records()
    }

    /// End of input: the output of a final line that had no newline.
    #[wasm_bindgen(unchecked_return_type = "JcdetectRecord[]")]
    pub fn flush(&mut self) -> Result<Array, JsValue> {
        self.out.clear();
        self.engine.finish(&mut self.out, &mut self.diags);
        self.records()
    }

    /// The run counters.
    #[wasm_bindgen(unchecked_return_type = "Stats")]
    pub fn stats(&self) -> Result<JsValue, JsValue> {
        JSON::parse(&self.engine.stats_json())
    }

    /// The window state as bytes (the file `jcdetect --state` writes; the same bytes), to
    /// store and hand to `restore` in a later process.
    pub fn snapshot(&self) -> js_sys::Uint8Array {
        js_sys::Uint8Array::from(&self.engine.snapshot()[..])
    }

    /// Load a state from `snapshot()` (or a native `--state` file) into this detector.
    /// Returns the number of keys loaded. Throws an `Error` whose message is JSON
    /// (`{"error":"state","kind":"damaged"|"incompatible"|"not_a_state_file","message":...}`)
    /// when the state is refused; the detector is then unchanged.
    pub fn restore(&mut self, state: &[u8]) -> Result<f64, JsValue> {
        match self.engine.restore(state) {
            Ok(r) => Ok(r.keys as f64),
            Err(e) => {
                let msg = serde_json::json!({"error": "state", "kind": e.kind(), "message": e.to_string()});
                Err(js_sys::Error::new(&msg.to_string()).into())
            }
        }
    }

    /// The bad-input reports since the last call (at most 1000 are kept; all are counted in
    /// `stats().diagnostics`).
    #[wasm_bindgen(unchecked_return_type = "Diagnostic[]")]
    pub fn diagnostics(&mut self) -> Array {
        let list = Array::new();
        for d in self.pending.drain(..) {
            let o = js_sys::Object::new();
            // Setting plain data properties on a fresh object cannot fail.
            let _ = js_sys::Reflect::set(&o, &"line".into(), &(d.line as f64).into());
            let _ = js_sys::Reflect::set(&o, &"code".into(), &d.code.as_str().into());
            let _ = js_sys::Reflect::set(&o, &"detail".into(), &d.detail.into());
            list.push(&o);
        }
        list
    }

    fn records(&mut self) -> Result<Array, JsValue> {
        for d in self.diags.drain(..) {
            if self.pending.len() < MAX_PENDING_DIAGS {
                self.pending.push(d);
            }
        }
        let list = Array::new();
        for line in self.out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            // Engine output is UTF-8 JSON, except a rejected line passed through verbatim
            // with emit "all": that one comes back as a string.
            let text = String::from_utf8_lossy(line);
            match JSON::parse(&text) {
                Ok(v) => list.push(&v),
                Err(_) => list.push(&JsValue::from_str(&text)),
            };
        }
        Ok(list)
    }
}
