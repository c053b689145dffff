//! Fluent Bit's `{"log": "<line>"}` records: the line inside evaluated as if read directly,
//! and in `--emit all`/embedded mode the record passed on whole, tagged with what it raised.

use super::*;

impl Engine {
    /// Fluent Bit hands over a line its parser rejected (a JSON array; or every line, when
    /// no parser is set) as `{"log": "<line>"}`. The line is evaluated as if read directly,
    /// on the record's line number. One level only: a `log` inside is not looked into.
    pub(super) fn unwrap_log(
        &mut self,
        record: &str,
        verbatim: &[u8],
        line: &str,
        host_time: Option<i64>,
        out: &mut Vec<u8>,
        diags: &mut Vec<Diagnostic>,
    ) {
        self.stats.unwrapped += 1;
        self.unwrapping = true;
        let line = line.trim_end_matches(['\r', '\n']);
        let line = line.strip_prefix('\u{feff}').unwrap_or(line);
        if line.trim().is_empty() {
            // Unlike a blank input line, the record itself goes on (embedded: one out).
            self.reject(Code::EmptyLine, "empty `log` field".into(), verbatim, diags);
            self.pass_raw(record.as_bytes(), out);
        } else if self.opts.emit == Emit::Alerts {
            self.process_text(line, verbatim, record.as_bytes(), host_time, out, diags);
        } else {
            self.tag_wrapper(record, verbatim, line, host_time, out, diags);
        }
        self.unwrapping = false;
    }

    /// `--emit all` and embedded mode, a record whose `log` holds the line: the record goes on
    /// whole (the host's other fields, `stream`, `kubernetes`..., stay), tagged with what its
    /// line raised; its alerts follow it (all) or ride in it (embedded). A line holding an
    /// array gives `category` "batch" and the rules and alerts of all its events. A line
    /// that is no DI event leaves the record untouched, as any rejected line.
    fn tag_wrapper(
        &mut self,
        record: &str,
        verbatim: &[u8],
        line: &str,
        host_time: Option<i64>,
        out: &mut Vec<u8>,
        diags: &mut Vec<Diagnostic>,
    ) {
        let mode = self.opts.emit;
        let items: Vec<&str> = if line.trim_start().starts_with('[') {
            match serde_json::from_str::<Vec<&RawValue>>(line) {
                Ok(items) => items.into_iter().map(RawValue::get).collect(),
                Err(e) => {
                    self.reject(Code::InvalidJson, json_error(&e), verbatim, diags);
                    self.pass_raw(record.as_bytes(), out);
                    return;
                }
            }
        } else {
            vec![line]
        };
        let batch = items.len() != 1 || line.trim_start().starts_with('[');
        let events_before = self.stats.events;
        let mut alerts = Vec::new();
        let mut fired: Vec<Tag> = Vec::new();
        let mut category = None;
        self.opts.emit = Emit::Alerts;
        for item in items {
            self.fired.clear();
            let whole = if batch { item.as_bytes() } else { verbatim };
            self.process_object(item, whole, item.as_bytes(), host_time, &mut alerts, diags);
            category = self.last_category;
            for id in &self.fired {
                if !fired.contains(id) {
                    fired.push(*id);
                }
            }
        }
        self.opts.emit = mode;
        if !batch && self.stats.events == events_before {
            self.pass_raw(record.as_bytes(), out);
            return;
        }
        let category = match category {
            Some(c) if !batch => c.as_str(),
            _ => "batch",
        };
        let fired = self.tag_names(&fired);
        if mode == Emit::Embedded {
            pass_tagged(record, category, &fired, Some(&alerts), out);
        } else {
            pass_tagged(record, category, &fired, None, out);
            out.extend_from_slice(&alerts);
        }
    }
}
