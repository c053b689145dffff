//! Users' Sigma rules on one event: the candidate rules by event type (and service), the
//! fields they read pulled out of the line once, each matching rule's alert (unless only
//! correlations use it), and the correlations it feeds on the windows.

use super::*;
use crate::alert::RuleInfo;
use crate::sigma::detection::first_text;
use crate::sigma::set::ALL_SERVICES;
use crate::windows::MAX_EVIDENCE_IDS;

/// A rule that fired on an event, for the event's tag in `--emit all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tag {
    Builtin(&'static str),
    /// A Sigma rule's or correlation's index in [`Engine::rule_ids`] after the built-ins.
    Sigma(usize),
}

/// What the engine knows of the event being evaluated.
pub(super) struct At<'a, 'e> {
    pub raw: &'a str,
    pub ev: &'a Event<'e>,
    pub category: Category,
    pub time: Option<i64>,
    pub window_time: Option<(i64, i64)>,
    pub silenced: bool,
}

impl Engine {
    pub(super) fn tag_names(&self, tags: &[Tag]) -> Vec<&str> {
        let sigma: Vec<&str> = if tags.iter().any(|t| matches!(t, Tag::Sigma(_))) {
            self.rule_ids().skip(self.rules.rules.len()).collect()
        } else {
            Vec::new()
        };
        tags.iter()
            .map(|t| match *t {
                Tag::Builtin(id) => id,
                Tag::Sigma(i) => sigma[i],
            })
            .collect()
    }

    pub(super) fn run_sigma(
        &mut self,
        at: &At<'_, '_>,
        alerts: &mut Vec<u8>,
        fired: &mut Vec<Tag>,
    ) {
        let set = self.sigma.clone();
        let ev = at.ev;
        let service = ev.service.as_deref();
        let in_service = |r: &crate::sigma::Rule| match r.service.as_deref() {
            None => true,
            Some(s) if s.eq_ignore_ascii_case(ALL_SERVICES) => true,
            Some(s) => service.is_some_and(|v| v.eq_ignore_ascii_case(s)),
        };
        let candidates = set.candidates(ev.event_type.as_deref());
        if !candidates
            .iter()
            .any(|&i| in_service(&set.rules[i as usize]))
        {
            return;
        }
        // The decoder read this line already: it is one JSON object.
        let Ok(fields) = set.paths.extract(at.raw) else {
            return;
        };
        let base = self.rules.rules.len();
        let corr_base = base + set.rules.len();
        for &i in candidates {
            let i = i as usize;
            let rule = &set.rules[i];
            if !in_service(rule) || !rule.matches(&fields) {
                continue;
            }
            if set.emits[i] {
                if at.silenced {
                    self.stats.allowlisted += 1;
                } else {
                    let meta = &set.metas[i];
                    let info = meta.info();
                    let alert = Alert {
                        rule: info,
                        severity: meta.severity,
                        time: at.time,
                        event: ev,
                        category: at.category,
                        uid: alert_uid(&info, ev, at.raw),
                        message: message(&info, ev),
                        reason: format!("Sigma condition `{}` held", rule.condition_text),
                        evidence: None,
                    };
                    alert.encode(self.opts.format, alerts);
                    self.stats.alerts[base + i] += 1;
                    fired.push(Tag::Sigma(i));
                }
            }
            // Allowlisted events do not count in windows, as for the built-in rules.
            let Some((t, now)) = at.window_time.filter(|_| !at.silenced) else {
                continue;
            };
            for &(c, position) in &set.feeds[i] {
                let corr = &set.correlations[c];
                let key: Vec<String> = corr.group_fields[position]
                    .iter()
                    .map(|p| first_text(&fields, p).unwrap_or_default())
                    .collect();
                let key = key.join("|");
                let value = corr.field.as_deref().and_then(|p| first_text(&fields, p));
                let id = ev.id.as_deref();
                let Some(e) =
                    self.windows
                        .correlate(c, position, &key, value.as_deref(), t, now, id)
                else {
                    continue;
                };
                let info: RuleInfo<'_> = corr.meta.info();
                debug_assert!(e.event_ids.len() <= MAX_EVIDENCE_IDS);
                let alert = Alert {
                    rule: info,
                    severity: corr.meta.severity,
                    time: at.time,
                    event: ev,
                    category: at.category,
                    uid: window_alert_uid(&info, &e, ev, at.raw),
                    message: window_message(&info, &e),
                    reason: window_reason(&e),
                    evidence: Some(e),
                };
                alert.encode(self.opts.format, alerts);
                self.stats.alerts[corr_base + c] += 1;
                fired.push(Tag::Sigma(set.rules.len() + c));
            }
        }
    }
}
