//! The built-in rule catalog, as data.
//!
//! Each rule is a [`RuleDef`]: identity, ATT&CK mapping, default severity, parameters with
//! their defaults, and (for single-event rules) a matcher written in the small condition
//! language of [`Cond`]. The engine compiles this table once and indexes it by event type;
//! a user-rule front end can produce the same structures.

/// Alert severity on the Sigma/OCSF scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Informational,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
    /// ECS `event.severity` and OCSF `severity_id` (1–5).
    pub fn number(self) -> u8 {
        self as u8 + 1
    }
    /// ECS `event.risk_score` (0–100), the usual banding of detection engines.
    pub fn risk_score(self) -> u8 {
        match self {
            Severity::Informational => 10,
            Severity::Low => 21,
            Severity::Medium => 47,
            Severity::High => 73,
            Severity::Critical => 99,
        }
    }
    /// Parse a severity name; also accepts the words other products use (`info`, `moderate`).
    pub fn parse(s: &str) -> Option<Severity> {
        let s = s.trim();
        let eq = |w: &str| s.eq_ignore_ascii_case(w);
        Some(if eq("informational") || eq("info") {
            Severity::Informational
        } else if eq("low") {
            Severity::Low
        } else if eq("medium") || eq("moderate") {
            Severity::Medium
        } else if eq("high") {
            Severity::High
        } else if eq("critical") {
            Severity::Critical
        } else {
            return None;
        })
    }
}

/// An ATT&CK reference: id and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttackRef {
    pub id: &'static str,
    pub name: &'static str,
}

/// The ATT&CK mapping of a rule.
#[derive(Debug, Clone, Copy)]
pub struct Attack {
    pub tactic: AttackRef,
    pub technique: AttackRef,
    pub subtechnique: Option<AttackRef>,
}

macro_rules! tactic {
    (TA0001) => {
        AttackRef {
            id: "TA0001",
            name: "Initial Access",
        }
    };
    (TA0002) => {
        AttackRef {
            id: "TA0002",
            name: "Execution",
        }
    };
    (TA0003) => {
        AttackRef {
            id: "TA0003",
            name: "Persistence",
        }
    };
    (TA0004) => {
        AttackRef {
            id: "TA0004",
            name: "Privilege Escalation",
        }
    };
    (TA0005) => {
        AttackRef {
            id: "TA0005",
            name: "Defense Evasion",
        }
    };
    (TA0006) => {
        AttackRef {
            id: "TA0006",
            name: "Credential Access",
        }
    };
}

const fn t(id: &'static str, name: &'static str) -> AttackRef {
    AttackRef { id, name }
}

const T1078: AttackRef = t("T1078", "Valid Accounts");
const T1098: AttackRef = t("T1098", "Account Manipulation");
const T1098_001: AttackRef = t("T1098.001", "Additional Cloud Credentials");
const T1136: AttackRef = t("T1136", "Create Account");
const T1562: AttackRef = t("T1562", "Impair Defenses");
const T1556: AttackRef = t("T1556", "Modify Authentication Process");
const T1556_006: AttackRef = t("T1556.006", "Multi-Factor Authentication");
const T1110: AttackRef = t("T1110", "Brute Force");
const T1072: AttackRef = t("T1072", "Software Deployment Tools");
const T1555: AttackRef = t("T1555", "Credentials from Password Stores");
const T1552: AttackRef = t("T1552", "Unsecured Credentials");

const fn attack(tactic: AttackRef, technique: AttackRef) -> Option<Attack> {
    Some(Attack {
        tactic,
        technique,
        subtechnique: None,
    })
}
const fn attack_sub(tactic: AttackRef, technique: AttackRef, sub: AttackRef) -> Option<Attack> {
    Some(Attack {
        tactic,
        technique,
        subtechnique: Some(sub),
    })
}

/// How a `changes[].to` value must look for a change condition to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToIs {
    Any,
    /// false, null, 0, "", "false", "disabled", "off", or no `to`.
    Off,
    /// null, "", [], {} or no `to`.
    Empty,
    True,
}

/// Which change fields a change condition looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldSel {
    /// One of these exact field names.
    Exact(&'static [&'static str]),
    /// A field whose normalized name (lower case, `_ - .` removed) contains one of the
    /// patterns held in the named string-list parameter of the rule.
    ContainsParam(&'static str),
    /// Same, with fixed patterns.
    Contains(&'static [&'static str]),
}

/// One condition of a matcher. A matcher is an OR of AND-ed condition lists.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cond {
    /// `event_type` is one of these.
    EventType(&'static [&'static str]),
    /// `service` equals this.
    Service(&'static str),
    /// The event is a login of any kind (see [`LOGIN_EVENT_TYPES`]).
    Login,
    /// The login outcome is known and equals this.
    Outcome(bool),
    /// `mfa` is present and equals this.
    Mfa(bool),
    /// `resource.type` equals this.
    ResourceType(&'static str),
    /// `association.op` equals this.
    AssocOp(&'static str),
    /// The association connects these two object types, in either direction.
    AssocPair(&'static str, &'static str),
    /// `association.attributes.sudo.enabled` is true.
    AssocSudo,
    /// Some `changes[]` entry has a selected field and a `to` of the given shape.
    Change(FieldSel, ToIs),
    /// The event's geoip country is in the named string-list parameter.
    CountryInParam(&'static str),
}

/// The kind of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    Single,
    Stateful,
}

impl RuleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Single => "single",
            RuleKind::Stateful => "stateful",
        }
    }
}

/// A parameter's type and default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamDefault {
    /// A list of strings (country codes, field-name patterns).
    StrList(&'static [&'static str]),
    /// A positive integer (thresholds, seconds).
    Int(u64),
    /// A non-negative float (kilometres, km/h).
    Float(f64),
}

/// A rule parameter.
#[derive(Debug, Clone, Copy)]
pub struct ParamDef {
    pub name: &'static str,
    pub default: ParamDefault,
    pub help: &'static str,
}

/// A rule as shipped.
#[derive(Debug, Clone, Copy)]
pub struct RuleDef {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub kind: RuleKind,
    pub severity: Severity,
    /// Take the severity from the event itself (`priority`/`severity`) when it has one.
    pub severity_from_event: bool,
    pub enabled: bool,
    pub attack: Option<Attack>,
    /// Single-event rules: OR of AND-ed conditions. Empty for stateful rules.
    pub matcher: &'static [&'static [Cond]],
    pub params: &'static [ParamDef],
}

/// Event types that are logins, per the catalog (both documented and emitted RADIUS names).
pub const LOGIN_EVENT_TYPES: &[&str] = &[
    "admin_login_attempt",
    "user_login_attempt",
    "sso_auth",
    "radius_auth_attempt",
    "radius_auth",
    "ldap_bind",
    "login_attempt",
];

const COUNTRIES: ParamDef = ParamDef {
    name: "countries",
    default: ParamDefault::StrList(&["CU", "IR", "KP", "SY"]),
    help: "ISO 3166 alpha-2 country codes that raise the alert",
};

const fn patterns(default: &'static [&'static str]) -> ParamDef {
    ParamDef {
        name: "field_patterns",
        default: ParamDefault::StrList(default),
        help: "substrings of a normalized changes[].field name (lower case, `_ - .` removed)",
    }
}

const fn single(
    id: &'static str,
    name: &'static str,
    description: &'static str,
    severity: Severity,
    attack: Option<Attack>,
    matcher: &'static [&'static [Cond]],
) -> RuleDef {
    RuleDef {
        id,
        name,
        description,
        kind: RuleKind::Single,
        severity,
        severity_from_event: false,
        enabled: true,
        attack,
        matcher,
        params: &[],
    }
}

use Cond::*;
use Severity::*;

/// The single-event rules of the catalog (section A), in catalog order. Alerts from one
/// event come out in this order.
pub const SINGLE_RULES: &[RuleDef] = &[
    single(
        "admin_login_without_mfa",
        "Admin console login without MFA",
        "An administrator signed in to the JumpCloud console successfully without a second factor.",
        High,
        attack(tactic!(TA0001), T1078),
        &[&[EventType(&["admin_login_attempt"]), Outcome(true), Mfa(false)]],
    ),
    single(
        "admin_privilege_granted",
        "JumpCloud administrator access granted",
        "A user group was given administrator rights, or a new JumpCloud administrator was created.",
        High,
        attack(tactic!(TA0004), T1078),
        &[&[EventType(&["user_group_admin_grant", "admin_create"])]],
    ),
    single(
        "device_admin_granted",
        "Admin rights on devices granted",
        "A user was given administrator or sudo rights on managed devices.",
        High,
        attack(tactic!(TA0004), T1078),
        &[
            &[EventType(&["user_admin_granted", "system_admin_grant"])],
            &[EventType(&["association_change"]), AssocOp("add"), AssocSudo],
        ],
    ),
    single(
        "admin_mfa_disabled",
        "MFA disabled for an administrator",
        "Multi-factor authentication was switched off on an administrator account.",
        Critical,
        attack(tactic!(TA0004), T1078),
        &[
            &[EventType(&["admin_totp_disable"])],
            &[
                EventType(&["admin_update"]),
                Change(FieldSel::Contains(&["totp", "mfa", "multifactor"]), ToIs::Off),
            ],
        ],
    ),
    single(
        "user_mfa_weakened",
        "MFA removed or excluded for a user",
        "A user's TOTP enrolment was deleted, MFA was turned off for the user portal, or the user was excluded from MFA.",
        Medium,
        attack_sub(tactic!(TA0005), T1556, T1556_006),
        &[
            &[EventType(&["totp_delete_enrollment"])],
            &[
                EventType(&["user_update"]),
                Change(FieldSel::Exact(&["enable_user_portal_multifactor", "totp_enabled"]), ToIs::Off),
            ],
            &[EventType(&["user_update"]), Change(FieldSel::Exact(&["mfa.exclusion"]), ToIs::True)],
        ],
    ),
    RuleDef {
        params: &[patterns(&["push", "protect"])],
        ..single(
            "protect_device_removed",
            "Push-MFA (JumpCloud Protect) device removed",
            "A user's push-MFA device registration was cleared. DI has no dedicated event for this, so the rule watches user_update changes whose field names a push/protect device and whose new value is empty.",
            Medium,
            attack(tactic!(TA0004), T1078),
            &[&[EventType(&["user_update"]), Change(FieldSel::ContainsParam("field_patterns"), ToIs::Empty)]],
        )
    },
    single(
        "expired_api_key_used",
        "Old administrator API key used",
        "A request was made with an administrator API key that has since been rotated or retired.",
        High,
        attack(tactic!(TA0001), T1078),
        &[&[EventType(&["admin_old_api_key_attempt"])]],
    ),
    RuleDef {
        params: &[patterns(&["apikey"])],
        ..single(
            "api_key_changed",
            "Administrator API key changed",
            "An administrator API key was created, regenerated or revoked (an admin_update change whose field names an API key).",
            Medium,
            attack_sub(tactic!(TA0003), T1098, T1098_001),
            &[&[EventType(&["admin_update"]), Change(FieldSel::ContainsParam("field_patterns"), ToIs::Any)]],
        )
    },
    single(
        "policy_created",
        "Device policy created",
        "A new device policy was created; policies can change security settings on every bound device.",
        Medium,
        attack(tactic!(TA0003), T1098),
        &[&[EventType(&["policy_create"])]],
    ),
    single(
        "policy_updated",
        "Device policy changed",
        "An existing device policy was modified.",
        Medium,
        attack(tactic!(TA0005), T1562),
        &[&[EventType(&["policy_update"])]],
    ),
    single(
        "policy_deleted",
        "Device policy deleted",
        "A device policy was removed, which may lift protections from the devices it was bound to.",
        High,
        attack(tactic!(TA0005), T1562),
        &[&[EventType(&["policy_delete"])]],
    ),
    single(
        "policy_bound_to_device_group",
        "Policy bound to a device group",
        "A device policy was attached to a device group, applying it to every member device.",
        Medium,
        attack(tactic!(TA0004), T1078),
        &[&[EventType(&["association_change"]), AssocOp("add"), AssocPair("policy", "system_group")]],
    ),
    single(
        "policy_group_created",
        "Policy group created",
        "A policy group was created.",
        Low,
        attack(tactic!(TA0003), T1098),
        &[&[EventType(&["group_create"]), ResourceType("policy_group")]],
    ),
    single(
        "user_created",
        "User account created",
        "A new user account was created in the directory.",
        Low,
        attack(tactic!(TA0003), T1136),
        &[&[EventType(&["user_create"])]],
    ),
    single(
        "user_deleted",
        "User account deleted",
        "A user account was deleted from the directory.",
        Medium,
        attack(tactic!(TA0005), T1562),
        &[&[EventType(&["user_delete"])]],
    ),
    single(
        "user_updated",
        "User profile changed",
        "A user's profile was modified; the alert lists the changed fields. Noisy by nature: informational.",
        Informational,
        attack(tactic!(TA0003), T1098),
        &[&[EventType(&["user_update"])]],
    ),
    single(
        "user_added_to_group",
        "User added to a user group",
        "A user was made a member of a user group, gaining whatever the group grants.",
        Low,
        attack(tactic!(TA0003), T1098),
        &[&[EventType(&["association_change"]), AssocOp("add"), AssocPair("user", "user_group")]],
    ),
    single(
        "user_group_deleted",
        "User group deleted",
        "A user group was deleted.",
        Medium,
        attack(tactic!(TA0005), T1562),
        &[&[EventType(&["group_delete"]), ResourceType("user_group")]],
    ),
    single(
        "device_bound_to_user",
        "Device bound to a user",
        "A managed device was bound to a user, creating an account for that user on the device.",
        Low,
        attack(tactic!(TA0003), T1098),
        &[&[EventType(&["association_change"]), AssocOp("add"), AssocPair("system", "user")]],
    ),
    single(
        "device_added_to_group",
        "Device added to a device group",
        "A managed device was made a member of a device group.",
        Low,
        attack(tactic!(TA0003), T1098),
        &[&[EventType(&["association_change"]), AssocOp("add"), AssocPair("system", "system_group")]],
    ),
    single(
        "device_group_deleted",
        "Device group deleted",
        "A device group was deleted.",
        Medium,
        attack(tactic!(TA0005), T1562),
        &[&[EventType(&["group_delete"]), ResourceType("system_group")]],
    ),
    single(
        "account_locked",
        "Account locked out",
        "A user or administrator account was locked, usually after repeated failed logins.",
        Low,
        attack(tactic!(TA0006), T1110),
        &[&[EventType(&["user_lockout", "admin_lockout"])]],
    ),
    single(
        "conditional_access_changed",
        "Conditional-access policy or IP list changed",
        "A conditional-access (authentication) policy or an IP list it relies on was created, changed or deleted.",
        Medium,
        attack(tactic!(TA0005), T1556),
        &[&[EventType(&[
            "authnpolicy_create",
            "authnpolicy_delete",
            "authpolicy_update",
            "authnpolicy_update",
            "iplist_create",
            "iplist_update",
            "iplist_delete",
        ])]],
    ),
    single(
        "remote_command_run",
        "Command run on managed devices",
        "A JumpCloud command was launched on managed devices.",
        Medium,
        attack(tactic!(TA0002), T1072),
        &[&[EventType(&["command_run"])]],
    ),
    single(
        "sso_app_added",
        "SSO application added",
        "A new SSO application was configured.",
        Low,
        attack(tactic!(TA0003), T1098),
        &[&[EventType(&["application_create"])]],
    ),
    single(
        "credential_export",
        "Vault or password-manager export",
        "Secrets were exported from the password manager or the password vault.",
        High,
        attack(tactic!(TA0006), T1555),
        &[&[EventType(&["passwordmanager_items_export", "passwordvault_credential_export"])]],
    ),
    single(
        "disk_key_revealed",
        "Disk-encryption recovery key revealed",
        "The full-disk-encryption recovery key of a device was decrypted for viewing.",
        Medium,
        attack(tactic!(TA0006), T1552),
        &[&[EventType(&["system_fde_key_decrypt"])]],
    ),
    RuleDef {
        params: &[COUNTRIES],
        ..single(
            "embargoed_location",
            "Activity from an embargoed country",
            "An event came from a country on the configured embargo list, according to its own geoip data.",
            High,
            attack(tactic!(TA0001), T1078),
            &[&[CountryInParam("countries")]],
        )
    },
    RuleDef {
        severity_from_event: true,
        ..single(
            "jumpcloud_alert",
            "JumpCloud raised an alert",
            "JumpCloud's own alerting created an alert; its severity is carried over when the event has one.",
            Medium,
            None,
            &[&[Service("alerts"), EventType(&["alert_created"])]],
        )
    },
    RuleDef {
        enabled: false,
        ..single(
            "login_success",
            "Successful login",
            "Building block: any successful login, of any kind. Off by default.",
            Informational,
            None,
            &[&[Login, Outcome(true)]],
        )
    },
];

/// Look up a built-in rule by id.
pub fn find(id: &str) -> Option<&'static RuleDef> {
    all().find(|r| r.id == id)
}

/// Every built-in rule, single-event first, in catalog order.
pub fn all() -> impl Iterator<Item = &'static RuleDef> {
    SINGLE_RULES.iter().chain(STATEFUL_RULES)
}

const fn int(name: &'static str, default: u64, help: &'static str) -> ParamDef {
    ParamDef {
        name,
        default: ParamDefault::Int(default),
        help,
    }
}
const fn threshold(n: u64) -> ParamDef {
    int(
        "threshold",
        n,
        "the count the rule compares against (see the rule's comparison)",
    )
}
const fn window(secs: u64) -> ParamDef {
    int(
        "window_secs",
        secs,
        "sliding window length, seconds of event time",
    )
}
const fn suppress(secs: u64) -> ParamDef {
    int(
        "suppress_secs",
        secs,
        "after an alert for a key, hold further alerts for this long (0 = never)",
    )
}

const fn stateful(
    id: &'static str,
    name: &'static str,
    description: &'static str,
    severity: Severity,
    attack: Option<Attack>,
    params: &'static [ParamDef],
) -> RuleDef {
    RuleDef {
        id,
        name,
        description,
        kind: RuleKind::Stateful,
        severity,
        severity_from_event: false,
        enabled: true,
        attack,
        matcher: &[],
        params,
    }
}

const T1110_001: AttackRef = t("T1110.001", "Password Guessing");
const T1110_003: AttackRef = t("T1110.003", "Password Spraying");
const T1110_004: AttackRef = t("T1110.004", "Credential Stuffing");

/// The stateful rules of the catalog (section B), in catalog order. Their logic lives in
/// `src/windows/`; thresholds, windows and suppression come from these parameters.
pub const STATEFUL_RULES: &[RuleDef] = &[
    stateful(
        "password_spray_from_ip",
        "Password spray from one IP",
        "Failed logins for more than `threshold` distinct accounts from one source IP within the window.",
        High,
        attack_sub(tactic!(TA0006), T1110, T1110_003),
        &[threshold(15), window(600), suppress(600)],
    ),
    stateful(
        "credential_stuffing_success",
        "Credential stuffing followed by a success",
        "At least `threshold` distinct accounts failed from one IP within the window, and a login from that IP then succeeded within `success_window_secs`.",
        Critical,
        attack_sub(tactic!(TA0006), T1110, T1110_004),
        &[
            threshold(7),
            window(600),
            int("success_window_secs", 3600, "how long after the failures a success still counts"),
            suppress(3600),
        ],
    ),
    stateful(
        "brute_force_then_success",
        "Brute force then success",
        "At least `threshold` failed logins for one account (per service) and then a successful login for it, all within the window.",
        High,
        attack_sub(tactic!(TA0006), T1110, T1110_001),
        &[threshold(5), window(600), suppress(600)],
    ),
    stateful(
        "brute_force_attempts",
        "Repeated failed logins for one account",
        "At least `threshold` failed logins for one account (per service) within the window; fires at the threshold-th failure.",
        Low,
        attack_sub(tactic!(TA0006), T1110, T1110_001),
        &[threshold(5), window(600), suppress(600)],
    ),
    stateful(
        "multiple_accounts_locked",
        "Lockout wave",
        "At least `threshold` distinct accounts of one organization were locked out within the window.",
        High,
        attack(tactic!(TA0006), T1110),
        &[threshold(3), window(900), suppress(900)],
    ),
    stateful(
        "admin_multi_country_login",
        "Administrator logged in from several countries",
        "Successful administrator logins from more than `threshold` countries within the window.",
        High,
        attack(tactic!(TA0001), T1078),
        &[threshold(1), window(3600), suppress(3600)],
    ),
    stateful(
        "user_multi_country_login",
        "User logged in from several countries",
        "Successful logins by one non-admin account from more than `threshold` countries within the window.",
        Medium,
        attack(tactic!(TA0001), T1078),
        &[threshold(1), window(3600), suppress(3600)],
    ),
    stateful(
        "impossible_travel",
        "Impossible travel",
        "Two consecutive successful logins of one account whose geoip points are further apart than `min_distance_km` and would need a speed above `min_speed_kmh`.",
        High,
        attack(tactic!(TA0001), T1078),
        &[
            int("min_distance_km", 500, "great-circle distance the two logins must exceed"),
            int("min_speed_kmh", 1000, "implied travel speed the two logins must exceed"),
        ],
    ),
    stateful(
        "sso_failure_burst",
        "Burst of failed SSO logins",
        "More than `threshold` failed sso_auth attempts for one account within the window.",
        Medium,
        attack(tactic!(TA0006), T1110),
        &[threshold(5), window(600), suppress(600)],
    ),
    stateful(
        "mfa_bypass_suspected",
        "Login without MFA after MFA use",
        "A successful login without MFA by an account that used MFA on an earlier successful login of the same event type within the horizon.",
        High,
        attack_sub(tactic!(TA0005), T1556, T1556_006),
        &[int("horizon_secs", 30 * 86_400, "how long an account's MFA use is remembered")],
    ),
];

/// Normalize a change field name or pattern: lower case, `_`, `-`, `.` and spaces removed.
pub fn normalize_field(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}
