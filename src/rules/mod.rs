//! Compiling the catalog (plus config) into an index by event type, and evaluating the
//! single-event matchers against a decoded event.

pub mod catalog;

use crate::decode::{ChangeValue, Event};
use catalog::{Cond, FieldSel, ParamDefault, RuleDef, RuleKind, Severity, ToIs};
use std::collections::BTreeMap;
use std::collections::HashMap;

pub use catalog::normalize_field;

/// A value given for a rule parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    StrList(Vec<String>),
    Int(u64),
    Float(f64),
}

/// What the config says about one rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleOverride {
    pub enabled: Option<bool>,
    pub severity: Option<Severity>,
    pub params: BTreeMap<String, ParamValue>,
}

/// Where compiling finds the user's settings of each rule (the config, or a plain map).
pub trait Overrides {
    fn rule(&self, id: &str) -> Option<&RuleOverride>;
    /// Whether the built-in catalog runs at all (`[rules] builtin`).
    fn builtin(&self) -> bool {
        true
    }
}

impl Overrides for BTreeMap<String, RuleOverride> {
    fn rule(&self, id: &str) -> Option<&RuleOverride> {
        self.get(id)
    }
}

/// [`normalize_field`] into a stack buffer, for matching on the hot path without allocating.
fn normalized(s: &str) -> smallvec::SmallVec<[u8; 64]> {
    if s.is_ascii() {
        s.bytes()
            .filter(|c| !matches!(c, b'_' | b'-' | b'.' | b' '))
            .map(|c| c.to_ascii_lowercase())
            .collect()
    } else {
        normalize_field(s).into_bytes().into_iter().collect()
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// A rule ready to run: its definition, the effective settings, and resolved parameters.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub def: &'static RuleDef,
    pub enabled: bool,
    pub severity: Severity,
    /// Effective string-list parameters, by name (normalized for field patterns).
    pub lists: Vec<(&'static str, Vec<String>)>,
    /// Effective integer parameters, by name.
    pub ints: Vec<(&'static str, u64)>,
    /// Effective float parameters, by name.
    pub floats: Vec<(&'static str, f64)>,
}

impl CompiledRule {
    fn new(def: &'static RuleDef, cfg: &impl Overrides) -> CompiledRule {
        let o = cfg.rule(def.id);
        let mut r = CompiledRule {
            def,
            enabled: cfg.builtin() && o.and_then(|o| o.enabled).unwrap_or(def.enabled),
            severity: o.and_then(|o| o.severity).unwrap_or(def.severity),
            lists: Vec::new(),
            ints: Vec::new(),
            floats: Vec::new(),
        };
        for pd in def.params {
            let given = o.and_then(|o| o.params.get(pd.name));
            match (pd.default, given) {
                (ParamDefault::StrList(_), Some(ParamValue::StrList(v))) => {
                    r.lists.push((pd.name, v.clone()))
                }
                (ParamDefault::StrList(d), _) => {
                    let v = if pd.name == "field_patterns" {
                        d.iter().map(|s| normalize_field(s)).collect()
                    } else {
                        d.iter().map(|s| s.to_string()).collect()
                    };
                    r.lists.push((pd.name, v))
                }
                (ParamDefault::Int(_), Some(ParamValue::Int(n))) => r.ints.push((pd.name, *n)),
                (ParamDefault::Int(d), _) => r.ints.push((pd.name, d)),
                (ParamDefault::Float(_), Some(ParamValue::Float(f))) => {
                    r.floats.push((pd.name, *f))
                }
                (ParamDefault::Float(d), _) => r.floats.push((pd.name, d)),
            }
        }
        r
    }

    pub fn list(&self, name: &str) -> &[String] {
        self.lists
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
    }
    pub fn int(&self, name: &str) -> u64 {
        self.ints
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .unwrap_or(0)
    }
    pub fn float(&self, name: &str) -> f64 {
        self.floats
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .unwrap_or(0.0)
    }
}

/// The normalized category of an event (section A of the catalog).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    LoginSuccess,
    LoginFailure,
    GroupModified,
    SystemAdded,
    CommandRun,
    AppAdded,
    PolicyChange,
    AccountChange,
    Other,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::LoginSuccess => "login_success",
            Category::LoginFailure => "login_failure",
            Category::GroupModified => "group_modified",
            Category::SystemAdded => "system_added",
            Category::CommandRun => "command_run",
            Category::AppAdded => "app_added",
            Category::PolicyChange => "policy_change",
            Category::AccountChange => "account_change",
            Category::Other => "other",
        }
    }
    /// ECS `event.category` for an alert about an event of this category.
    pub fn ecs(self) -> &'static str {
        match self {
            Category::LoginSuccess | Category::LoginFailure => "authentication",
            Category::GroupModified | Category::AccountChange => "iam",
            Category::SystemAdded => "host",
            Category::CommandRun => "process",
            Category::AppAdded | Category::PolicyChange => "configuration",
            Category::Other => "threat",
        }
    }
}

/// What the index knows about one event type.
#[derive(Debug, Clone, Default)]
struct TypeEntry {
    /// Indices into `Rules::rules`, in catalog order (event-type rules merged with the
    /// rules that apply to every event type).
    rules: Vec<u16>,
    login: Login,
}

/// Whether events of one type are logins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Login {
    #[default]
    No,
    Yes,
    /// Only under service `systems` (`login_attempt`, the device login: the catalog does not
    /// count it as a login under any other service).
    UnderSystems,
}

impl Login {
    #[inline]
    fn holds(self, ev: &Event<'_>) -> bool {
        match self {
            Login::No => false,
            Login::Yes => true,
            Login::UnderSystems => ev.service.as_deref() == Some("systems"),
        }
    }
}

/// The compiled catalog.
#[derive(Debug, Clone)]
pub struct Rules {
    pub rules: Vec<CompiledRule>,
    by_type: HashMap<&'static str, TypeEntry, crate::hash::FastBuild>,
    /// Rules with no event-type condition (checked on every event).
    any_type: TypeEntry,
}

/// The event types that can be logins (for category and stateful rules). `login_attempt` is
/// one only under service `systems`: see [`is_login_event`].
pub fn is_login_type(t: &str) -> bool {
    crate::rules::catalog::LOGIN_EVENT_TYPES.contains(&t)
}

/// Event types that are logins only under service `systems` (the catalog's device login).
const SYSTEMS_ONLY_LOGIN_TYPES: &[&str] = &["login_attempt"];

fn login_kind(t: &str) -> Login {
    if !is_login_type(t) {
        Login::No
    } else if SYSTEMS_ONLY_LOGIN_TYPES.contains(&t) {
        Login::UnderSystems
    } else {
        Login::Yes
    }
}

/// Whether the event is a login per the catalog: a login event type, and for `login_attempt`
/// service `systems`. The slow path (no index); [`Rules::is_login`] is the indexed one.
pub fn is_login_event(ev: &Event<'_>) -> bool {
    ev.event_type
        .as_deref()
        .is_some_and(|t| login_kind(t).holds(ev))
}

impl Rules {
    /// Compile every built-in rule with the config's overrides. Disabled rules are kept (so
    /// `jcdetect rules` can show them) but not indexed.
    pub fn compile(cfg: &impl Overrides) -> Rules {
        let rules: Vec<CompiledRule> = crate::rules::catalog::all()
            .map(|d| CompiledRule::new(d, cfg))
            .collect();
        let mut by_type: HashMap<&'static str, TypeEntry, crate::hash::FastBuild> =
            HashMap::default();
        let mut any_type = TypeEntry::default();
        for t in crate::rules::catalog::LOGIN_EVENT_TYPES {
            by_type.entry(t).or_default().login = login_kind(t);
        }
        for (i, r) in rules.iter().enumerate() {
            if !r.enabled || r.def.kind != RuleKind::Single {
                continue;
            }
            let mut types: Vec<&'static str> = Vec::new();
            let mut every_branch_typed = true;
            for branch in r.def.matcher {
                let mut typed = false;
                for c in branch.iter() {
                    match c {
                        Cond::EventType(ts) => {
                            typed = true;
                            types.extend_from_slice(ts);
                        }
                        Cond::Login => {
                            typed = true;
                            types.extend_from_slice(crate::rules::catalog::LOGIN_EVENT_TYPES);
                        }
                        _ => {}
                    }
                }
                every_branch_typed &= typed;
            }
            if every_branch_typed {
                for t in types {
                    let e = by_type.entry(t).or_default();
                    if e.rules.last() != Some(&(i as u16)) {
                        e.rules.push(i as u16);
                    }
                }
            } else {
                any_type.rules.push(i as u16);
            }
        }
        // Merge the any-type rules into each entry, keeping catalog order.
        for e in by_type.values_mut() {
            e.rules.extend_from_slice(&any_type.rules);
            e.rules.sort_unstable();
            e.rules.dedup();
        }
        Rules {
            rules,
            by_type,
            any_type,
        }
    }

    /// Call `hit` with the index of every enabled single-event rule the event matches, in
    /// catalog order, and the matcher branch that held.
    pub fn matches(&self, ev: &Event<'_>, mut hit: impl FnMut(usize, &'static [Cond])) {
        let entry = ev
            .event_type
            .as_deref()
            .and_then(|t| self.by_type.get(t))
            .unwrap_or(&self.any_type);
        for &i in &entry.rules {
            let r = &self.rules[i as usize];
            let matcher: &'static [&'static [Cond]] = r.def.matcher;
            if let Some(branch) = matcher.iter().find(|b| b.iter().all(|c| cond(r, c, ev))) {
                hit(i as usize, branch);
            }
        }
    }

    /// Whether the event is a login of any kind (`login_attempt` only under service
    /// `systems`).
    pub fn is_login(&self, ev: &Event<'_>) -> bool {
        ev.event_type
            .as_deref()
            .and_then(|t| self.by_type.get(t))
            .is_some_and(|e| e.login.holds(ev))
    }

    /// The event's normalized category.
    pub fn category(&self, ev: &Event<'_>) -> Category {
        let t = ev.event_type.as_deref().unwrap_or("");
        if self.is_login(ev) {
            return match ev.outcome() {
                Some(true) => Category::LoginSuccess,
                Some(false) => Category::LoginFailure,
                None => Category::Other,
            };
        }
        let touches_group = |a: &crate::decode::Association<'_>| {
            [a.from_type.as_deref(), a.to_type.as_deref()]
                .iter()
                .any(|t| t.is_some_and(|t| t.ends_with("group")))
        };
        match t {
            "system_create" => Category::SystemAdded,
            "command_run" => Category::CommandRun,
            "application_create" => Category::AppAdded,
            "association_change" if ev.association.as_ref().is_some_and(touches_group) => {
                Category::GroupModified
            }
            _ if t.starts_with("group_") || t.starts_with("user_group_") => Category::GroupModified,
            _ if t.starts_with("policy_")
                || t.starts_with("authnpolicy_")
                || t.starts_with("authpolicy_")
                || t.starts_with("iplist_")
                || t.starts_with("policygroup") =>
            {
                Category::PolicyChange
            }
            _ if t.starts_with("user_")
                || t.starts_with("admin_")
                || t.starts_with("totp_")
                || t == "association_change" =>
            {
                Category::AccountChange
            }
            _ => Category::Other,
        }
    }

    /// Index of a rule by id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.rules.iter().position(|r| r.def.id == id)
    }
}

/// The first `changes[].field` that satisfies a change condition, if any.
pub(crate) fn matching_change<'e>(
    r: &CompiledRule,
    sel: FieldSel,
    to: ToIs,
    ev: &'e Event<'_>,
) -> Option<&'e str> {
    ev.changes.iter().find_map(|c| {
        let field = c.field.as_deref()?;
        let field_ok = match sel {
            FieldSel::Exact(names) => names.contains(&field),
            FieldSel::Contains(pats) => {
                let n = normalized(field);
                pats.iter().any(|p| contains(&n, p.as_bytes()))
            }
            FieldSel::ContainsParam(param) => {
                let n = normalized(field);
                r.list(param).iter().any(|p| contains(&n, p.as_bytes()))
            }
        };
        (field_ok && to_matches(c.to, to)).then_some(field)
    })
}

fn to_matches(v: ChangeValue, want: ToIs) -> bool {
    match want {
        ToIs::Any => true,
        ToIs::Off => v.is_off(),
        ToIs::Empty => v.is_empty(),
        ToIs::True => v.is_true(),
    }
}

fn cond(r: &CompiledRule, c: &Cond, ev: &Event<'_>) -> bool {
    match *c {
        Cond::EventType(ts) => ev.event_type.as_deref().is_some_and(|t| ts.contains(&t)),
        Cond::Service(s) => ev.service.as_deref() == Some(s),
        Cond::Login => is_login_event(ev),
        Cond::Outcome(b) => ev.outcome() == Some(b),
        Cond::Mfa(b) => ev.mfa == Some(b),
        Cond::ResourceType(t) => ev.resource.as_ref().and_then(|r| r.kind.as_deref()) == Some(t),
        Cond::AssocOp(op) => ev.association.as_ref().and_then(|a| a.op.as_deref()) == Some(op),
        Cond::AssocPair(x, y) => ev.association.as_ref().is_some_and(|a| {
            let (f, t) = (a.from_type.as_deref(), a.to_type.as_deref());
            (f == Some(x) && t == Some(y)) || (f == Some(y) && t == Some(x))
        }),
        Cond::AssocSudo => ev.association.as_ref().and_then(|a| a.sudo_enabled) == Some(true),
        Cond::Change(sel, to) => matching_change(r, sel, to, ev).is_some(),
        Cond::CountryInParam(p) => ev
            .country()
            .is_some_and(|cc| r.list(p).iter().any(|l| l.eq_ignore_ascii_case(cc))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::decode::decode;

    fn rules() -> Rules {
        Rules::compile(&Config::default())
    }

    #[test]
    fn login_attempt_is_a_login_only_under_systems() {
        let r = rules();
        fn ev(line: &str) -> Event<'_> {
            decode(line).unwrap()
        }
        let systems = ev(
            r#"{"event_type":"login_attempt","service":"systems","success":false,"username":"a"}"#,
        );
        assert!(r.is_login(&systems));
        assert!(is_login_event(&systems));
        assert_eq!(r.category(&systems), Category::LoginFailure);
        for other in [
            r#"{"event_type":"login_attempt","service":"directory","success":false}"#,
            r#"{"event_type":"login_attempt","service":"sso","success":true}"#,
            r#"{"event_type":"login_attempt","success":true}"#,
        ] {
            let e = ev(other);
            assert!(!r.is_login(&e), "{other}");
            assert!(!is_login_event(&e), "{other}");
            assert_eq!(r.category(&e), Category::Other, "{other}");
        }
        // every other login type is a login under any service (or none)
        for t in LOGIN_TYPES_ANY_SERVICE {
            for svc in ["directory", "systems", "sso", "radius", "ldap", "alerts"] {
                let line = format!(r#"{{"event_type":"{t}","service":"{svc}","success":true}}"#);
                let e = ev(&line);
                assert!(r.is_login(&e), "{t} {svc}");
                assert_eq!(r.category(&e), Category::LoginSuccess, "{t} {svc}");
            }
            let line = format!(r#"{{"event_type":"{t}","success":true}}"#);
            let e = ev(&line);
            assert!(r.is_login(&e), "{t}");
        }
        assert!(!r.is_login(&ev(r#"{"event_type":"user_update","success":true}"#)));
        assert!(!r.is_login(&ev(r#"{"success":true}"#)));
    }

    const LOGIN_TYPES_ANY_SERVICE: &[&str] = &[
        "admin_login_attempt",
        "user_login_attempt",
        "sso_auth",
        "radius_auth_attempt",
        "radius_auth",
        "ldap_bind",
    ];

    #[test]
    fn login_types_partition_the_catalog_list() {
        let mut all: Vec<&str> = LOGIN_TYPES_ANY_SERVICE.to_vec();
        all.extend_from_slice(SYSTEMS_ONLY_LOGIN_TYPES);
        all.sort_unstable();
        let mut cat = crate::rules::catalog::LOGIN_EVENT_TYPES.to_vec();
        cat.sort_unstable();
        assert_eq!(all, cat);
    }

    #[test]
    fn cond_login_follows_the_service() {
        // `login_success` (off by default) matches on Cond::Login.
        let cfg = Config::from_toml_str("[rules.login_success]\nenabled = true\n").unwrap();
        let r = Rules::compile(&cfg);
        let hits = |line: &str| {
            let e = decode(line).unwrap();
            let mut ids = Vec::new();
            r.matches(&e, |i, _| ids.push(r.rules[i].def.id));
            ids
        };
        assert_eq!(
            hits(r#"{"event_type":"login_attempt","service":"systems","success":true}"#),
            ["login_success"]
        );
        assert!(
            hits(r#"{"event_type":"login_attempt","service":"directory","success":true}"#)
                .is_empty()
        );
        assert_eq!(
            hits(r#"{"event_type":"sso_auth","service":"sso","sso_token_success":true}"#),
            ["login_success"]
        );
    }
}
