//! The words of an alert: its id, its message and the reason it fired, for single-event
//! rules (from the event and the conditions that held) and for stateful rules (from the
//! window's evidence).

use crate::alert::RuleInfo;
use crate::alert::{Evidence, Extra};
use crate::decode::time::NANOS;
use crate::decode::Event;
use crate::hash::StableHasher;
use crate::rules::catalog::Cond;
use crate::rules::CompiledRule;

/// Same event and rule, same id: replays and retries deduplicate downstream.
pub fn alert_uid(rule: &RuleInfo<'_>, ev: &Event<'_>, raw: &str) -> String {
    let mut h = StableHasher::new(0x6a63_6465_7465_6374);
    h.part(rule.id.as_bytes());
    match ev.id.as_deref().filter(|s| !s.is_empty()) {
        Some(id) => h
            .part(id.as_bytes())
            .part(ev.timestamp.as_deref().unwrap_or("").as_bytes()),
        None => h.part(raw.as_bytes()),
    };
    h.hex128()
}

/// A stateful alert's id: the rule, the group, the window's end and the event that closed it.
pub fn window_alert_uid(rule: &RuleInfo<'_>, e: &Evidence, ev: &Event<'_>, raw: &str) -> String {
    let mut h = StableHasher::new(0x7769_6e64_6f77);
    h.part(rule.id.as_bytes())
        .part(e.group_key.as_bytes())
        .part(&e.window_end.to_le_bytes())
        .part(ev.id.as_deref().unwrap_or(raw).as_bytes());
    h.hex128()
}

pub fn message(rule: &RuleInfo<'_>, ev: &Event<'_>) -> String {
    let mut m = String::with_capacity(160);
    m.push_str(rule.name);
    m.push_str(": ");
    m.push_str(ev.event_type.as_deref().unwrap_or("event"));
    if let Some(s) = ev.service.as_deref() {
        m.push_str(" (");
        m.push_str(s);
        m.push(')');
    }
    match ev.actor() {
        Some(a) => {
            m.push_str(" by ");
            m.push_str(a);
        }
        None => m.push_str(" by an unknown actor"),
    }
    if let Some(t) = ev.target() {
        if Some(t) != ev.actor() {
            m.push_str(" on ");
            m.push_str(t);
        }
    }
    if let Some(ip) = ev.source_ip_key() {
        m.push_str(" from ");
        m.push_str(&ip);
    }
    if let Some(cc) = ev.country() {
        m.push_str(" [");
        m.push_str(cc);
        m.push(']');
    }
    m.push('.');
    m
}

fn span(ns: i64) -> String {
    let s = ns / NANOS;
    if s % 3600 == 0 && s > 0 {
        format!("{} h", s / 3600)
    } else if s % 60 == 0 && s > 0 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

pub fn window_message(rule: &RuleInfo<'_>, e: &Evidence) -> String {
    let what = match e.distinct_count {
        Some(d) => format!("{d} distinct"),
        None => format!("{} events", e.count),
    };
    let mut m = format!(
        "{}: {} {} — {} within {} (threshold: {} {})",
        rule.name,
        e.group_by,
        e.group_key,
        what,
        span(e.window_end.saturating_sub(e.window_start)),
        e.comparison,
        e.threshold
    );
    for (k, v) in &e.extra {
        let v = match v {
            Extra::Int(n) => n.to_string(),
            Extra::Float(f) => f.to_string(),
            Extra::Str(s) => s.clone(),
            Extra::Strs(l) => l.join(","),
        };
        m.push_str(&format!(", {k}={v}"));
    }
    if e.suppressed > 0 {
        m.push_str(&format!(
            "; {} repeats suppressed since the previous alert",
            e.suppressed
        ));
    }
    m.push('.');
    m
}

pub fn window_reason(e: &Evidence) -> String {
    let get = |k: &str| e.extra.iter().find(|(n, _)| *n == k).map(|(_, v)| v);
    if let (Some(Extra::Float(km)), Some(speed)) = (get("distance_km"), get("speed_kmh")) {
        let speed = match speed {
            Extra::Float(f) => format!("{f} km/h"),
            _ => "an infinite speed".into(),
        };
        return format!(
            "consecutive logins of {} are {km} km apart (more than {} km) at {speed}",
            e.group_key, e.threshold
        );
    }
    if get("last_mfa_login_secs_ago").is_some() {
        return format!(
            "{} logged in without MFA after an earlier MFA login",
            e.group_key
        );
    }
    let n = e.distinct_count.unwrap_or(e.count);
    format!(
        "{} {n} is {} {} for {} {}",
        if e.distinct_count.is_some() {
            "distinct count"
        } else {
            "count"
        },
        e.comparison,
        e.threshold,
        e.group_by,
        e.group_key
    )
}

/// Why the rule matched, spelled out from the conditions of the branch that held.
pub fn reason(r: &CompiledRule, branch: &[Cond], ev: &Event<'_>) -> String {
    let parts: Vec<String> = branch
        .iter()
        .map(|c| match *c {
            Cond::EventType(_) => {
                format!("event_type is {}", ev.event_type.as_deref().unwrap_or(""))
            }
            Cond::Service(s) => format!("service is {s}"),
            Cond::Login => "it is a login".into(),
            Cond::Outcome(true) => "the login succeeded".into(),
            Cond::Outcome(false) => "the login failed".into(),
            Cond::Mfa(false) => "no second factor was used".into(),
            Cond::Mfa(true) => "a second factor was used".into(),
            Cond::ResourceType(t) => format!("resource.type is {t}"),
            Cond::AssocOp(op) => format!("association op is {op}"),
            Cond::AssocPair(..) => {
                let a = ev.association.as_ref();
                format!(
                    "it links {} to {}",
                    a.and_then(|a| a.from_type.as_deref()).unwrap_or("?"),
                    a.and_then(|a| a.to_type.as_deref()).unwrap_or("?")
                )
            }
            Cond::AssocSudo => "sudo is enabled on the association".into(),
            Cond::Change(sel, to) => format!(
                "changes[] sets `{}`",
                crate::rules::matching_change(r, sel, to, ev).unwrap_or("?")
            ),
            Cond::CountryInParam(_) => {
                format!(
                    "geoip country {} is on the list",
                    ev.country().unwrap_or("?")
                )
            }
        })
        .collect();
    parts.join(", ")
}
