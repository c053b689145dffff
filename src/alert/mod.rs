//! Alert records: one format-independent [`Alert`], encoded as ECS (default) or as an OCSF
//! Detection Finding (class 2004).

pub mod embed;
pub mod json;
pub mod message;

use crate::decode::Event;
use crate::rules::catalog::Severity;
use crate::rules::{Category, CompiledRule};
use json::Obj;
use std::net::IpAddr;

/// Product version stamped on every alert.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Output format of alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Ecs,
    Ocsf,
}

/// Extra evidence values a stateful rule attaches (distance, speed, countries...).
#[derive(Debug, Clone, PartialEq)]
pub enum Extra {
    Int(i64),
    Float(f64),
    Str(String),
    Strs(Vec<String>),
}

/// The window evidence of a stateful alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// What the rule groups by (`source.ip`, `user`, ...).
    pub group_by: std::borrow::Cow<'static, str>,
    pub group_key: String,
    pub window_start: i64,
    pub window_end: i64,
    /// Events counted in the window.
    pub count: u64,
    /// Distinct actors (or accounts, countries) in the window, where the rule counts them.
    pub distinct_count: Option<u64>,
    pub threshold: u64,
    /// `"more than"` or `"at least"`.
    pub comparison: &'static str,
    /// Alerts for this key held back by suppression since the previous alert.
    pub suppressed: u64,
    /// DI ids of the events that made the rule fire (bounded), and their full number.
    pub event_ids: Vec<String>,
    pub event_ids_total: u64,
    pub extra: Vec<(&'static str, Extra)>,
}

/// What an alert says about its rule: a built-in rule ([`CompiledRule::info`]) or a Sigma
/// rule ([`crate::sigma::set::Meta`]).
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo<'a> {
    pub id: &'a str,
    /// A Sigma rule's `id` (ECS `rule.uuid`).
    pub uuid: Option<&'a str>,
    pub name: &'a str,
    pub description: &'a str,
    /// `jcdetect` for the built-in catalog, `sigma` for users' rules.
    pub ruleset: &'a str,
    /// ATT&CK (id, name); a name may be empty (a technique the catalog does not name).
    pub tactic: Option<(&'a str, &'a str)>,
    pub technique: Option<(&'a str, &'a str)>,
    pub subtechnique: Option<(&'a str, &'a str)>,
    pub references: &'a [String],
}

impl CompiledRule {
    pub fn info(&self) -> RuleInfo<'static> {
        let d = self.def;
        let pair = |r: crate::rules::catalog::AttackRef| (r.id, r.name);
        RuleInfo {
            id: d.id,
            uuid: None,
            name: d.name,
            description: d.description,
            ruleset: "jcdetect",
            tactic: d.attack.map(|a| pair(a.tactic)),
            technique: d.attack.map(|a| pair(a.technique)),
            subtechnique: d.attack.and_then(|a| a.subtechnique).map(pair),
            references: &[],
        }
    }
}

impl crate::sigma::set::Meta {
    pub fn info(&self) -> RuleInfo<'_> {
        fn pair(p: &Option<(String, String)>) -> Option<(&str, &str)> {
            p.as_ref().map(|(a, b)| (a.as_str(), b.as_str()))
        }
        RuleInfo {
            id: &self.id,
            uuid: self.uuid.as_deref(),
            name: &self.title,
            description: &self.description,
            ruleset: "sigma",
            tactic: pair(&self.tactic),
            technique: pair(&self.technique),
            subtechnique: pair(&self.subtechnique),
            references: &self.references,
        }
    }
}

/// Everything an alert says, before encoding.
pub struct Alert<'a, 'e> {
    pub rule: RuleInfo<'a>,
    pub severity: Severity,
    /// Event time of the triggering event (ns since the epoch), if known.
    pub time: Option<i64>,
    /// The event that made the rule fire.
    pub event: &'a Event<'e>,
    pub category: Category,
    /// Deterministic alert id (32 hex digits).
    pub uid: String,
    pub message: String,
    pub reason: String,
    pub evidence: Option<Evidence>,
}

/// The event's source as an address (`source.ip`, `related.ip`, `src_endpoint.ip`) or, when it
/// is not one, as text. Read from [`Event::source_ip_key`], so every spelling of one address
/// is written in its one canonical form (RFC 5952 IPv6, IPv4-mapped as IPv4).
fn ecs_ip(s: Option<&str>) -> (Option<IpAddr>, Option<&str>) {
    match s {
        Some(s) => match s.trim().parse::<IpAddr>() {
            Ok(ip) => (Some(ip), None),
            Err(_) => (None, Some(s)),
        },
        None => (None, None),
    }
}

/// An ATT&CK `[id]` and `[name]` pair of arrays (the name left out when unknown).
fn attack_ref(x: &mut Obj<'_>, (id, name): (&str, &str)) {
    x.str_array("id", [id]);
    if !name.is_empty() {
        x.str_array("name", [name]);
    }
}

fn user_fields(o: &mut Obj<'_>, name: Option<&str>, id: Option<&str>, admin: bool) {
    if let Some(n) = name {
        o.str("name", n);
        if n.contains('@') {
            o.str("email", n);
        }
    }
    o.opt_str("id", id);
    if admin && name.is_some() {
        o.str_array("roles", ["admin"]);
    }
}

fn outcome(ev: &Event<'_>) -> &'static str {
    match ev.outcome() {
        Some(true) => "success",
        Some(false) => "failure",
        None => "unknown",
    }
}

fn write_evidence(o: &mut Obj<'_>, ev: &Evidence) {
    o.str("group_by", &ev.group_by)
        .str("group_key", &ev.group_key)
        .int("count", ev.count as i64);
    if let Some(d) = ev.distinct_count {
        o.int("distinct_count", d as i64);
    }
    o.int("threshold", ev.threshold as i64)
        .str("comparison", ev.comparison)
        .obj("window", |w| {
            w.str("start", &rfc3339(ev.window_start))
                .str("end", &rfc3339(ev.window_end));
        })
        .int("suppressed", ev.suppressed as i64);
    for (k, v) in &ev.extra {
        match v {
            Extra::Int(n) => {
                o.int(k, *n);
            }
            Extra::Float(f) => {
                o.float(k, *f);
            }
            Extra::Str(s) => {
                o.str(k, s);
            }
            Extra::Strs(l) => {
                o.str_array(k, l.iter().map(String::as_str));
            }
        }
    }
}

fn di_ids<'b>(a: &'b Alert<'_, '_>) -> Vec<&'b str> {
    match &a.evidence {
        Some(e) => e.event_ids.iter().map(String::as_str).collect(),
        None => a
            .event
            .id
            .as_deref()
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect(),
    }
}

fn di_ids_total(a: &Alert<'_, '_>) -> u64 {
    match &a.evidence {
        Some(e) => e.event_ids_total,
        None => u64::from(a.event.id.as_deref().is_some_and(|s| !s.is_empty())),
    }
}

fn rfc3339(ns: i64) -> String {
    crate::decode::time::to_rfc3339(ns)
}

impl Alert<'_, '_> {
    /// Append the alert as one line (with the trailing newline) in `format`.
    pub fn encode(&self, format: Format, out: &mut Vec<u8>) {
        match format {
            Format::Ecs => self.encode_ecs(out),
            Format::Ocsf => self.encode_ocsf(out),
        }
        out.push(b'\n');
    }

    fn changed_fields(&self) -> Vec<&str> {
        self.event
            .changes
            .iter()
            .filter_map(|c| c.field.as_deref())
            .collect()
    }

    fn encode_ecs(&self, out: &mut Vec<u8>) {
        let ev = self.event;
        let actor = ev.actor();
        let target = ev.target();
        let src = ev.source_ip_key();
        let (ip, non_ip) = ecs_ip(src.as_deref());
        let mut o = Obj::new(out);
        if let Some(t) = self.time {
            o.str("@timestamp", &rfc3339(t));
        }
        o.obj("event", |e| {
            e.str("kind", "alert")
                .str("id", &self.uid)
                .int("severity", i64::from(self.severity.number()))
                .int("risk_score", i64::from(self.severity.risk_score()))
                .opt_str("action", ev.event_type.as_deref())
                .str_array("category", [self.category.ecs()])
                .str_array("type", ["info"])
                .str("outcome", outcome(ev))
                .opt_str("provider", ev.service.as_deref())
                .str("dataset", "jumpcloud.directory_insights");
            if let Some(w) = &self.evidence {
                e.str("start", &rfc3339(w.window_start))
                    .str("end", &rfc3339(w.window_end));
            }
            e.str("reason", &self.reason);
        });
        o.str("message", &self.message);
        let rule = &self.rule;
        o.obj("rule", |r| {
            r.str("id", rule.id);
            r.opt_str("uuid", rule.uuid);
            r.str("name", rule.name)
                .str("description", rule.description)
                .str("ruleset", rule.ruleset)
                .str("version", VERSION);
            if let Some(first) = rule.references.first() {
                r.str("reference", first);
            }
        });
        if rule.tactic.is_some() || rule.technique.is_some() {
            o.obj("threat", |t| {
                t.str("framework", "MITRE ATT&CK");
                if let Some(tactic) = rule.tactic {
                    t.obj("tactic", |x| attack_ref(x, tactic));
                }
                if let Some(technique) = rule.technique {
                    t.obj("technique", |x| {
                        attack_ref(x, technique);
                        if let Some(s) = rule.subtechnique {
                            x.obj("subtechnique", |y| attack_ref(y, s));
                        }
                    });
                }
            });
        }
        o.obj("source", |s| {
            if let Some(ip) = ip {
                s.str("ip", &ip.to_string());
            }
            s.opt_str("address", non_ip);
            if let Some(g) = &ev.geoip {
                s.obj("geo", |g2| {
                    g2.opt_str("country_iso_code", ev.country())
                        .opt_str("region_name", g.region_name.as_deref());
                    if let (Some(lat), Some(lon)) = (g.latitude, g.longitude) {
                        g2.obj("location", |l| {
                            l.float("lat", lat).float("lon", lon);
                        });
                    }
                });
            }
            s.obj("user", |u| {
                user_fields(
                    u,
                    actor,
                    ev.initiated_by.as_ref().and_then(|a| a.id.as_deref()),
                    ev.actor_is_admin(),
                );
            });
        });
        o.obj("user", |u| {
            user_fields(
                u,
                target,
                ev.resource
                    .as_ref()
                    .and_then(|r| r.id.as_deref())
                    .filter(|_| target.is_some()),
                false,
            );
        });
        o.obj("host", |h| {
            h.opt_str("name", ev.system_hostname.as_deref());
        });
        o.obj("organization", |org| {
            org.opt_str("id", ev.organization.as_deref());
        });
        o.obj("related", |r| {
            let ipstr = ip.map(|ip| ip.to_string());
            r.opt_str_array("ip", ipstr.as_deref());
            let mut users: Vec<&str> = Vec::with_capacity(2);
            users.extend(actor);
            if let Some(t) = target {
                if Some(t) != actor {
                    users.push(t);
                }
            }
            r.opt_str_array("user", users);
        });
        o.obj("observer", |ob| {
            ob.str("product", "jcdetect")
                .str("vendor", "jcdetect")
                .str("type", "detection")
                .str("version", VERSION);
        });
        o.obj("jcdetect", |j| {
            j.str("category", self.category.as_str());
            j.str_array("di_event_ids", di_ids(self));
            j.int("di_event_count", di_ids_total(self) as i64);
            if let Some(w) = &self.evidence {
                write_evidence(j, w);
            }
            if self.rule.ruleset == "jcdetect" && self.rule.id == "user_updated" {
                j.str_array("changed_fields", self.changed_fields());
            }
        });
        o.end();
    }

    fn encode_ocsf(&self, out: &mut Vec<u8>) {
        let ev = self.event;
        let actor = ev.actor();
        let target = ev.target();
        let src = ev.source_ip_key();
        let (ip, non_ip) = ecs_ip(src.as_deref());
        let sev = self.severity;
        let sev_name = match sev {
            Severity::Informational => "Informational",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
            Severity::Critical => "Critical",
        };
        let mut o = Obj::new(out);
        o.int("class_uid", 2004)
            .str("class_name", "Detection Finding")
            .int("category_uid", 2)
            .str("category_name", "Findings")
            .int("activity_id", 1)
            .str("activity_name", "Create")
            .int("type_uid", 200401)
            .str("type_name", "Detection Finding: Create")
            .int("severity_id", i64::from(sev.number()))
            .str("severity", sev_name)
            .int("status_id", 1)
            .str("status", "New");
        if let Some(t) = self.time {
            o.int("time", t.div_euclid(1_000_000));
        }
        o.str("message", &self.message);
        o.obj("metadata", |m| {
            m.str("version", "1.3.0")
                .str("uid", &self.uid)
                .obj("product", |p| {
                    p.str("name", "jcdetect")
                        .str("vendor_name", "jcdetect")
                        .str("version", VERSION);
                })
                .opt_str("original_time", ev.timestamp.as_deref());
        });
        o.obj("finding_info", |f| {
            f.str("uid", &self.uid)
                .str("title", self.rule.name)
                .str("desc", self.rule.description)
                .str_array("types", [self.category.as_str()])
                .obj("analytic", |a| {
                    a.str("uid", self.rule.id)
                        .str("name", self.rule.name)
                        .int("type_id", 1)
                        .str("type", "Rule")
                        .str("version", VERSION);
                });
            if let Some(w) = &self.evidence {
                f.int("first_seen_time", w.window_start.div_euclid(1_000_000))
                    .int("last_seen_time", w.window_end.div_euclid(1_000_000));
            }
            let ids = di_ids(self);
            f.opt_str_array("related_events_uids", ids);
            let rule = &self.rule;
            if rule.tactic.is_some() || rule.technique.is_some() {
                f.obj_array("attacks", [()], |a, _| {
                    let uid_name = |x: &mut Obj<'_>, (id, name): (&str, &str)| {
                        x.str("uid", id);
                        if !name.is_empty() {
                            x.str("name", name);
                        }
                    };
                    if let Some(t) = rule.tactic {
                        a.obj("tactic", |x| uid_name(x, t));
                    }
                    if let Some(t) = rule.technique {
                        a.obj("technique", |x| uid_name(x, t));
                    }
                    if let Some(s) = rule.subtechnique {
                        a.obj("sub_technique", |x| uid_name(x, s));
                    }
                    a.str("version", "15.1");
                });
            }
        });
        o.obj_array("evidences", [()], |e, _| {
            e.obj("src_endpoint", |s| {
                if let Some(ip) = ip {
                    s.str("ip", &ip.to_string());
                }
                s.opt_str("hostname", non_ip);
                if let Some(g) = &ev.geoip {
                    s.obj("location", |l| {
                        l.opt_str("country", ev.country())
                            .opt_str("region", g.region_name.as_deref());
                        if let (Some(lat), Some(lon)) = (g.latitude, g.longitude) {
                            l.float("lat", lat).float("long", lon);
                        }
                    });
                }
            });
            e.obj("actor", |a| {
                a.obj("user", |u| {
                    if let Some(n) = actor {
                        u.str("name", n);
                        if n.contains('@') {
                            u.str("email_addr", n);
                        }
                        if ev.actor_is_admin() {
                            u.str("type", "Admin").int("type_id", 2);
                        }
                    }
                    u.opt_str(
                        "uid",
                        ev.initiated_by.as_ref().and_then(|a| a.id.as_deref()),
                    );
                });
            });
            e.obj("user", |u| {
                if let Some(n) = target {
                    u.str("name", n);
                    u.opt_str("uid", ev.resource.as_ref().and_then(|r| r.id.as_deref()));
                }
            });
            e.obj("data", |d| {
                d.opt_str("event_type", ev.event_type.as_deref())
                    .opt_str("service", ev.service.as_deref())
                    .str("outcome", outcome(ev))
                    .opt_str("id", ev.id.as_deref());
            });
        });
        o.obj("unmapped", |u| {
            u.obj("jcdetect", |j| {
                j.str("category", self.category.as_str())
                    .str("reason", &self.reason);
                j.str_array("di_event_ids", di_ids(self));
                j.int("di_event_count", di_ids_total(self) as i64);
                j.opt_str("organization", ev.organization.as_deref());
                if let Some(w) = &self.evidence {
                    write_evidence(j, w);
                }
                if self.rule.ruleset == "jcdetect" && self.rule.id == "user_updated" {
                    j.str_array("changed_fields", self.changed_fields());
                }
            });
        });
        o.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::decode::decode;
    use crate::rules::Rules;

    fn encode(line: &str, format: Format) -> serde_json::Value {
        let rules = Rules::compile(&Config::default());
        let rule = &rules.rules[rules.index_of("admin_login_without_mfa").unwrap()];
        let ev = decode(line).unwrap();
        let a = Alert {
            rule: rule.info(),
            severity: rule.severity,
            time: None,
            event: &ev,
            category: rules.category(&ev),
            uid: "0".repeat(32),
            message: String::new(),
            reason: String::new(),
            evidence: None,
        };
        let mut out = Vec::new();
        a.encode(format, &mut out);
        serde_json::from_slice(&out).unwrap()
    }

    fn line(ip: &str, ty: &str) -> String {
        format!(
            r#"{{"id":"1","event_type":"admin_login_attempt","service":"directory","success":true,"mfa":false,"client_ip":"{ip}","initiated_by":{{"type":"{ty}","username":"ann"}}}}"#
        )
    }

    #[test]
    fn source_ip_is_written_canonical() {
        for (given, want) in [
            ("2001:DB8::7", "2001:db8::7"),
            ("2001:db8:0:0:0:0:0:7", "2001:db8::7"),
            ("2001:db8::7", "2001:db8::7"),
            ("::ffff:192.0.2.1", "192.0.2.1"),
            ("192.0.2.1", "192.0.2.1"),
        ] {
            let v = encode(&line(given, "admin"), Format::Ecs);
            assert_eq!(v["source"]["ip"], want, "{given}");
            assert_eq!(v["related"]["ip"], serde_json::json!([want]), "{given}");
            assert!(v["source"].get("address").is_none(), "{given}");
            let v = encode(&line(given, "admin"), Format::Ocsf);
            let src = &v["evidences"][0]["src_endpoint"];
            assert_eq!(src["ip"], want, "{given}");
        }
        // Not an address: kept as written, as text.
        let v = encode(&line("fe80::1%eth0", "admin"), Format::Ecs);
        assert!(v["source"].get("ip").is_none());
        assert_eq!(v["source"]["address"], "fe80::1%eth0");
        assert!(v["related"].get("ip").is_none());
        let v = encode(&line("fe80::1%eth0", "admin"), Format::Ocsf);
        assert_eq!(
            v["evidences"][0]["src_endpoint"]["hostname"],
            "fe80::1%eth0"
        );
    }

    #[test]
    fn admin_event_type_marks_the_actor_admin() {
        // admin_login_attempt with initiated_by.type "user": still an admin (catalog).
        let v = encode(&line("192.0.2.1", "user"), Format::Ecs);
        assert_eq!(v["source"]["user"]["roles"], serde_json::json!(["admin"]));
        let v = encode(&line("192.0.2.1", "user"), Format::Ocsf);
        assert_eq!(v["evidences"][0]["actor"]["user"]["type"], "Admin");
    }
}
