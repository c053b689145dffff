//! Users' Sigma rules on one event: the candidate rules by event type (and service), the
//! fields they read pulled out of the line once, each matching rule's alert (unless only
//! correlations use it), and the correlations it feeds on the windows.

use super::*;
use crate::alert::RuleInfo;
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
        // Rules for this event type and service, in file order; nothing is extracted
        // without one.
        let candidates: smallvec::SmallVec<[u32; 32]> =
            set.candidates(ev.event_type.as_deref(), service).collect();
        if candidates.is_empty() {
            return;
        }
        // The decoder read this line already: it is one JSON object.
        let Ok(fields) = set.paths.extract(at.raw) else {
            return;
        };
        let base = self.rules.rules.len();
        let corr_base = base + set.rules.len();
        for i in candidates {
            let i = i as usize;
            let rule = &set.rules[i];
            if !set.matches(i, &fields) {
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
                let first = |id: usize| fields.get(id).texts().next();
                let group: smallvec::SmallVec<[&str; 4]> = corr.group_ids[position]
                    .iter()
                    .map(|&id| first(id).unwrap_or_default())
                    .collect();
                let value = corr.field_id.and_then(first);
                let id = ev.id.as_deref();
                let Some(e) = self
                    .windows
                    .correlate(c, position, &group, value, t, now, id)
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
