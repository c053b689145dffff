//! Decode: one DI event's JSON text into an [`Event`], the fields rules and alerts read.
//!
//! [`scan`] is the decoder the data path runs: it validates the whole line, borrows strings
//! where they are not escaped, and skips every subtree no rule reads. Each field is decoded
//! leniently: a value of the wrong JSON type is recorded (for a diagnostic) and treated as
//! absent, so one odd field never loses the event. [`time`] parses and formats event times.
//! The serde_json reference decoder the scanner is tested against is tests-only (feature
//! `reference-decoder`).

use smallvec::SmallVec;
use std::borrow::Cow;
use std::fmt;

/// A string field as it appeared: absent, `null`, or text (`""` included).
pub type Str<'a> = Option<Cow<'a, str>>;

/// The `to` (or `from`) side of a `changes[]` entry, reduced to what rules ask of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChangeValue {
    #[default]
    Absent,
    Null,
    Bool(bool),
    /// Number: whether it is zero.
    Number {
        zero: bool,
    },
    /// String: whether it is empty, and whether it reads as an "off" word.
    Text {
        empty: bool,
        off_word: bool,
    },
    /// Array or object: whether it is empty.
    Container {
        empty: bool,
    },
}

impl ChangeValue {
    /// Turned off: false, null, 0, "", "false", "disabled", "off", or no `to` at all.
    pub fn is_off(self) -> bool {
        match self {
            ChangeValue::Absent | ChangeValue::Null => true,
            ChangeValue::Bool(b) => !b,
            ChangeValue::Number { zero } => zero,
            ChangeValue::Text { empty, off_word } => empty || off_word,
            ChangeValue::Container { .. } => false,
        }
    }
    /// Emptied: null, "", [], {} or no `to`.
    pub fn is_empty(self) -> bool {
        match self {
            ChangeValue::Absent | ChangeValue::Null => true,
            ChangeValue::Text { empty, .. } | ChangeValue::Container { empty } => empty,
            _ => false,
        }
    }
    /// Turned on: `true` (the JSON boolean only; "true" strings are not seen in DI).
    pub fn is_true(self) -> bool {
        self == ChangeValue::Bool(true)
    }
}

/// One `changes[]` entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Change<'a> {
    pub field: Str<'a>,
    pub to: ChangeValue,
}

/// `initiated_by`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Actor<'a> {
    pub id: Str<'a>,
    pub kind: Str<'a>,
    pub email: Str<'a>,
    pub username: Str<'a>,
}

/// `resource`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resource<'a> {
    pub kind: Str<'a>,
    pub id: Str<'a>,
    pub username: Str<'a>,
    pub email: Str<'a>,
    pub display_name: Str<'a>,
    pub name: Str<'a>,
    pub hostname: Str<'a>,
}

/// `geoip`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Geo<'a> {
    pub country_code: Str<'a>,
    pub region_name: Str<'a>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// `association`, flattened.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Association<'a> {
    pub op: Str<'a>,
    pub from_type: Str<'a>,
    pub from_name: Str<'a>,
    pub to_type: Str<'a>,
    pub to_name: Str<'a>,
    /// `attributes.sudo.enabled`.
    pub sudo_enabled: Option<bool>,
}

/// The fields of a DI event that jcdetect reads. Everything else passes through untouched.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Event<'a> {
    pub id: Str<'a>,
    pub timestamp: Str<'a>,
    pub event_type: Str<'a>,
    pub service: Str<'a>,
    pub organization: Str<'a>,
    pub client_ip: Str<'a>,
    pub src_ip: Str<'a>,
    pub success: Option<bool>,
    pub sso_token_success: Option<bool>,
    pub mfa: Option<bool>,
    pub mfa_type: Str<'a>,
    pub username: Str<'a>,
    pub error_message: Str<'a>,
    pub auth_method: Str<'a>,
    /// `priority` or `severity` of a JumpCloud-raised alert.
    pub priority: Str<'a>,
    pub initiated_by: Option<Actor<'a>>,
    pub resource: Option<Resource<'a>>,
    pub geoip: Option<Geo<'a>>,
    pub association: Option<Association<'a>>,
    pub changes: SmallVec<[Change<'a>; 4]>,
    pub system_hostname: Str<'a>,
    /// The first field found with a JSON type we cannot use (reported, then ignored).
    pub wrong_type: Option<&'static str>,
}

pub mod scan;
pub mod time;

#[cfg(feature = "reference-decoder")]
mod reference;
#[cfg(feature = "reference-decoder")]
pub use reference::decode_with_serde;
pub use scan::{decode, DecodeError};

impl<'a> Event<'a> {
    /// Whether the object carries the DI envelope: a string `event_type`, `service`, `id`
    /// or `organization`. Legacy RADIUS events have no `event_type` or `service`, but every
    /// DI event has an `id` and an `organization`; a host's own record (Vector's
    /// `message`/`host`/`timestamp`, Fluent Bit's `log`) has none of them.
    pub fn is_di_event(&self) -> bool {
        self.event_type.is_some()
            || self.service.is_some()
            || self.id.is_some()
            || self.organization.is_some()
    }

    /// The acting identity, per the catalog: admin email, else username, else the top-level
    /// `username` (radius, ldap, device logins), else the legacy `resource.email` of old
    /// admin logins. Empty strings count as absent.
    pub fn actor(&self) -> Option<&str> {
        let ib = self.initiated_by.as_ref();
        nonempty(ib.and_then(|a| a.email.as_deref()))
            .or_else(|| nonempty(ib.and_then(|a| a.username.as_deref())))
            .or_else(|| nonempty(self.username.as_deref()))
            .or_else(|| {
                if self.event_type.as_deref() == Some("admin_login_attempt") {
                    nonempty(self.resource.as_ref().and_then(|r| r.email.as_deref()))
                } else {
                    None
                }
            })
    }

    /// Whether the actor is a JumpCloud administrator, per the catalog: `initiated_by.type`
    /// is `admin`, or the event type is an `admin_*` one (whatever `initiated_by.type` says).
    pub fn actor_is_admin(&self) -> bool {
        self.initiated_by
            .as_ref()
            .and_then(|a| a.kind.as_deref())
            .is_some_and(|ty| ty == "admin")
            || self
                .event_type
                .as_deref()
                .is_some_and(|et| et.starts_with("admin_"))
    }

    /// The target of the action (what `resource` names).
    pub fn target(&self) -> Option<&str> {
        let r = self.resource.as_ref()?;
        // Legacy admin logins put the actor in `resource`: it is not a target there.
        if self.initiated_by.is_none() && self.event_type.as_deref() == Some("admin_login_attempt")
        {
            return None;
        }
        nonempty(r.username.as_deref())
            .or_else(|| nonempty(r.email.as_deref()))
            .or_else(|| nonempty(r.display_name.as_deref()))
            .or_else(|| nonempty(r.name.as_deref()))
            .or_else(|| nonempty(r.hostname.as_deref()))
            .or_else(|| nonempty(r.id.as_deref()))
    }

    /// The login source: `client_ip`, or `src_ip` on `systems` events.
    pub fn source_ip(&self) -> Option<&str> {
        if self.service.as_deref() == Some("systems") {
            if let Some(ip) = nonempty(self.src_ip.as_deref()) {
                return Some(ip);
            }
        }
        nonempty(self.client_ip.as_deref()).or_else(|| nonempty(self.src_ip.as_deref()))
    }

    /// The source ip in canonical form, for window keys and alerts: IPv6 as RFC 5952 writes
    /// it (lower case, zeros compressed), an IPv4-mapped IPv6 address as its IPv4 address, so
    /// every spelling of one address is one key. Anything that is not an address (a hostname,
    /// an address with a zone) is kept as written. Never allocates: borrowed when already
    /// canonical, else written on the stack (window keys take one per login).
    pub fn source_ip_key(&self) -> Option<IpKey<'_>> {
        self.source_ip().map(IpKey::of)
    }

    /// Login outcome: `success`, else `sso_token_success`. `None` = unknown (never a failure).
    pub fn outcome(&self) -> Option<bool> {
        self.success.or(self.sso_token_success)
    }

    /// Country code of the event's own geoip, if any.
    pub fn country(&self) -> Option<&str> {
        nonempty(self.geoip.as_ref().and_then(|g| g.country_code.as_deref()))
    }
}

/// See [`Event::source_ip_key`]. Surrounding spaces are dropped. IPv4 text is already
/// canonical when it parses (std refuses leading zeros), so only strings with a `:` are
/// parsed and re-written.
pub fn canonical_ip(s: &str) -> Cow<'_, str> {
    match IpKey::of(s) {
        IpKey::Same(s) => Cow::Borrowed(s),
        IpKey::Rewritten(t) => Cow::Owned(t.as_str().to_string()),
    }
}

/// An ip in canonical form (see [`Event::source_ip_key`]), read as a `str`.
pub enum IpKey<'a> {
    /// The text as given (trimmed): already canonical, or no address.
    Same(&'a str),
    Rewritten(IpText),
}

impl<'a> IpKey<'a> {
    pub fn of(s: &'a str) -> IpKey<'a> {
        let s = s.trim();
        match IpText::rewrite(s) {
            Some(t) => IpKey::Rewritten(t),
            None => IpKey::Same(s),
        }
    }
}

impl std::ops::Deref for IpKey<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            IpKey::Same(s) => s,
            IpKey::Rewritten(t) => t.as_str(),
        }
    }
}

impl fmt::Debug for IpKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl PartialEq for IpKey<'_> {
    fn eq(&self, o: &Self) -> bool {
        **self == **o
    }
}

/// The canonical text of an IPv6 address, written on the stack (the window keys take one per
/// login, so no allocation and no `fmt`).
pub struct IpText {
    buf: [u8; 40],
    len: usize,
}

impl IpText {
    /// `None` when `s` is already canonical or is no IPv6 address (it is then used as is).
    pub fn rewrite(s: &str) -> Option<IpText> {
        if !s.contains(':') {
            return None;
        }
        let a = s.parse::<std::net::Ipv6Addr>().ok()?;
        let mut t = IpText {
            buf: [0; 40],
            len: 0,
        };
        match a.to_ipv4_mapped() {
            Some(v4) => {
                for (n, o) in v4.octets().iter().enumerate() {
                    if n > 0 {
                        t.push(b'.');
                    }
                    t.dec(*o);
                }
            }
            None => t.rfc5952(&a.segments()),
        }
        (t.as_str() != s).then_some(t)
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits, hex letters, ':' and '.' are ever written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    fn push(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    fn dec(&mut self, o: u8) {
        if o >= 100 {
            self.push(b'0' + o / 100);
        }
        if o >= 10 {
            self.push(b'0' + o / 10 % 10);
        }
        self.push(b'0' + o % 10);
    }

    /// RFC 5952: lower-case hex without leading zeros; the longest run of two or more zero
    /// groups (the first of equal runs) written as `::`.
    fn rfc5952(&mut self, g: &[u16; 8]) {
        let (mut best, mut best_len, mut run) = (8, 1, 0);
        for (i, &v) in g.iter().enumerate() {
            run = if v == 0 { run + 1 } else { 0 };
            if run > best_len {
                (best, best_len) = (i + 1 - run, run);
            }
        }
        let mut i = 0;
        while i < 8 {
            if i == best {
                self.push(b':');
                if i == 0 {
                    self.push(b':');
                }
                i += best_len;
                continue;
            }
            let v = g[i];
            let mut started = false;
            for shift in [12, 8, 4, 0] {
                let d = (v >> shift) & 0xf;
                if d != 0 || started || shift == 0 {
                    started = true;
                    self.push(b"0123456789abcdef"[d as usize]);
                }
            }
            if i < 7 {
                self.push(b':');
            }
            i += 1;
        }
    }
}

fn nonempty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_modern_admin_login() {
        let e = decode(r#"{"initiated_by":{"id":"6","type":"admin","email":"A@x.io"},"geoip":{"country_code":"FR","latitude":48.8,"longitude":2.4},"mfa":true,"event_type":"admin_login_attempt","success":true,"client_ip":"1.2.3.4","id":"648c","timestamp":"2023-06-16T14:06:45.921Z","useragent":{"os":"Mac"}}"#).unwrap();
        assert_eq!(e.actor(), Some("A@x.io"));
        assert!(e.actor_is_admin());
        assert_eq!(e.country(), Some("FR"));
        assert_eq!(e.outcome(), Some(true));
        assert_eq!(e.geoip.unwrap().latitude, Some(48.8));
        assert!(e.wrong_type.is_none());
    }

    #[test]
    fn legacy_shapes() {
        let e = decode(r#"{"geoip":{"country_code2":"US"},"event_type":"admin_login_attempt","resource":{"type":"admin","email":"jane@x.io"},"success":true}"#).unwrap();
        assert_eq!(e.actor(), Some("jane@x.io"));
        assert!(e.actor_is_admin());
        assert_eq!(e.country(), Some("US"));
        assert_eq!(e.target(), None);
        // country_code wins over country_code2 in either order
        let e = decode(r#"{"geoip":{"country_code":"DE","country_code2":"US"}}"#).unwrap();
        assert_eq!(e.country(), Some("DE"));
    }

    #[test]
    fn wrong_types_are_recorded_not_fatal() {
        let e = decode(r#"{"success":"yes","mfa":1,"client_ip":7,"geoip":"FR","changes":{"a":1},"event_type":"user_login_attempt","initiated_by":{"username":["x"]}}"#).unwrap();
        assert_eq!(e.success, None);
        assert_eq!(e.mfa, None);
        assert_eq!(e.client_ip, None);
        assert!(e.geoip.is_none());
        assert_eq!(e.wrong_type, Some("success"));
        assert_eq!(e.event_type.as_deref(), Some("user_login_attempt"));
    }

    #[test]
    fn escaped_strings_and_nulls() {
        let e = decode(r#"{"initiated_by":{"username":"j\u00f6rg\"x"},"client_ip":null,"error_message":"","sso_token_success":false}"#).unwrap();
        assert_eq!(e.actor(), Some("jörg\"x"));
        assert_eq!(e.client_ip, None);
        assert_eq!(e.error_message.as_deref(), Some(""));
        assert_eq!(e.outcome(), Some(false));
    }

    #[test]
    fn changes_and_association() {
        let e = decode(r#"{"changes":[{"field":"totp_enabled","from":true,"to":false},{"field":"x","to":{"a":1}},{"field":"y"}],"association":{"op":"add","connection":{"from":{"type":"system","name":"D"},"to":{"type":"user","name":"u"}},"attributes":{"sudo":{"enabled":true,"withoutPassword":false}}}}"#).unwrap();
        assert_eq!(e.changes.len(), 3);
        assert!(e.changes[0].to.is_off());
        assert!(!e.changes[1].to.is_off());
        assert!(e.changes[2].to.is_empty());
        let a = e.association.unwrap();
        assert_eq!(a.from_type.as_deref(), Some("system"));
        assert_eq!(a.to_type.as_deref(), Some("user"));
        assert_eq!(a.sudo_enabled, Some(true));
    }

    #[test]
    fn rejects_non_objects_and_garbage() {
        for bad in [
            "[1,2]",
            "42",
            "\"x\"",
            "{\"a\":",
            "{\"a\":1}}",
            "{'a':1}",
            "null",
        ] {
            assert!(decode(bad).is_err(), "{bad}");
            assert!(decode_with_serde(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn admin_is_the_initiator_type_or_an_admin_event_type() {
        let admin = |line: &str| decode(line).unwrap().actor_is_admin();
        // initiated_by.type admin, whatever the event type
        assert!(admin(
            r#"{"event_type":"user_update","initiated_by":{"type":"admin","email":"a@x.io"}}"#
        ));
        // an admin_* event type, whatever initiated_by.type says (the catalog's "or")
        assert!(admin(
            r#"{"event_type":"admin_login_attempt","initiated_by":{"type":"user","username":"a"}}"#
        ));
        assert!(admin(
            r#"{"event_type":"admin_login_attempt","initiated_by":{"type":"api_key"}}"#
        ));
        assert!(admin(r#"{"event_type":"admin_create","initiated_by":{}}"#));
        assert!(admin(r#"{"event_type":"admin_login_attempt"}"#));
        // neither
        assert!(!admin(
            r#"{"event_type":"user_login_attempt","initiated_by":{"type":"user","username":"a"}}"#
        ));
        assert!(!admin(r#"{"event_type":"sso_auth"}"#));
        assert!(!admin(r#"{"initiated_by":{"type":"Admin"}}"#));
        assert!(!admin(
            r#"{"event_type":"user_admin_granted","initiated_by":{"type":"user"}}"#
        ));
    }

    #[test]
    fn canonical_ip_forms() {
        // IPv6: one RFC 5952 spelling (lower case, longest zero run compressed)
        for s in [
            "2001:DB8::7",
            "2001:db8:0:0:0:0:0:7",
            "2001:0DB8:0000::0007",
        ] {
            let c = canonical_ip(s);
            assert_eq!(c, "2001:db8::7", "{s}");
            assert!(matches!(c, Cow::Owned(_)), "{s}");
        }
        assert!(matches!(
            canonical_ip("2001:db8::7"),
            Cow::Borrowed("2001:db8::7")
        ));
        assert_eq!(canonical_ip("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
        assert_eq!(canonical_ip("0:0:0:0:0:0:0:1"), "::1");
        // IPv4-mapped IPv6 is its IPv4 address
        assert_eq!(canonical_ip("::ffff:192.0.2.1"), "192.0.2.1");
        assert_eq!(canonical_ip("::FFFF:c000:0201"), "192.0.2.1");
        // IPv4 is already canonical: borrowed, unchanged
        assert!(matches!(
            canonical_ip("192.0.2.1"),
            Cow::Borrowed("192.0.2.1")
        ));
        // not an address (a zone, a hostname, junk): kept as written, borrowed
        for s in [
            "fe80::1%eth0",
            "not-an-ip",
            "host.example.com",
            "1.2.3",
            ":::",
            "",
        ] {
            assert!(matches!(canonical_ip(s), Cow::Borrowed(x) if x == s), "{s}");
        }
    }

    #[test]
    fn source_ip_key_is_canonical() {
        let e = decode(r#"{"client_ip":"2001:DB8:0:0:0:0:0:7"}"#).unwrap();
        assert_eq!(e.source_ip(), Some("2001:DB8:0:0:0:0:0:7"));
        assert_eq!(e.source_ip_key().as_deref(), Some("2001:db8::7"));
        let e = decode(r#"{"service":"systems","src_ip":"::ffff:192.0.2.1"}"#).unwrap();
        assert_eq!(e.source_ip_key().as_deref(), Some("192.0.2.1"));
        let e = decode(r#"{"client_ip":""}"#).unwrap();
        assert_eq!(e.source_ip_key(), None);
    }

    #[test]
    fn canonical_ip_drops_surrounding_spaces() {
        assert_eq!(canonical_ip(" 192.0.2.1 "), "192.0.2.1");
        assert_eq!(canonical_ip(" ::FFFF:192.0.2.1"), "192.0.2.1");
    }

    #[test]
    fn canonical_text_agrees_with_std() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for n in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Mostly zero groups, so every run shape comes up.
            let mut seg = [0u16; 8];
            for (i, s) in seg.iter_mut().enumerate() {
                if (x >> (i * 3)) & 3 == 0 {
                    *s = (x >> (i * 5 + 16)) as u16 & [0xf, 0xfff, 0xffff][n as usize % 3];
                }
            }
            let a = std::net::Ipv6Addr::from(seg);
            let want = match a.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => a.to_string(),
            };
            let long = seg.map(|g| format!("{g:X}")).join(":");
            assert_eq!(canonical_ip(&long), want.as_str(), "{long}");
            assert_eq!(canonical_ip(&want), want.as_str());
        }
    }

    #[test]
    fn systems_source_ip() {
        let e =
            decode(r#"{"service":"systems","client_ip":"10.0.0.1","src_ip":"8.8.8.8"}"#).unwrap();
        assert_eq!(e.source_ip(), Some("8.8.8.8"));
        let e = decode(r#"{"service":"directory","client_ip":"","src_ip":"8.8.8.8"}"#).unwrap();
        assert_eq!(e.source_ip(), Some("8.8.8.8"));
    }
}
