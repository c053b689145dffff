//! Synthetic Sigma rules for the benchmarks (`jcdetect generate --sigma-rules N`): what a
//! team's own rule set looks like in bulk. Eight in ten pin an event type the replay emits
//! and test one more field (a suffix, a network, a country list, a resource type, a changed
//! field, a prefix with an outcome); two in ten pin none (a service and a regex or a
//! network), so they are tried on every event. Their values are made up, so they rarely
//! match: the cost measured is evaluating them.

use super::rng::Rng;
use std::fmt::Write;

/// Event types the replay generator emits, logins first (the bulk of the traffic).
const EVENT_TYPES: &[&str] = &[
    "user_login_attempt",
    "admin_login_attempt",
    "sso_auth",
    "radius_auth_attempt",
    "ldap_bind",
    "login_attempt",
    "user_update",
    "user_create",
    "admin_update",
    "policy_update",
    "association_change",
    "user_password_change",
    "user_group_admin_grant",
    "iplist_update",
    "command_result",
    "mdm_command_result",
    "system_fde_key_decrypt",
    "password_vault",
    "user_lockout",
    "ldap_srch",
];

const SERVICES: &[&str] = &["directory", "sso", "systems", "radius", "ldap", "mdm"];

/// `n` rules (one YAML document each), the same for the same `seed`.
pub fn sigma_rules(n: usize, seed: u64) -> String {
    let mut rng = Rng(seed ^ 0x0073_6967_6d61);
    let mut out = String::with_capacity(n * 300);
    for i in 0..n {
        if i > 0 {
            out.push_str("---\n");
        }
        let _ = writeln!(
            out,
            "title: Generated rule {i}\nname: generated_{i}\nlevel: low\n\
             logsource: {{product: jumpcloud}}\ndetection:"
        );
        let et = rng.pick(EVENT_TYPES);
        let (a, b) = (rng.below(256), rng.below(256));
        let pinned = match rng.below(10) {
            0 => format!("initiated_by.username|endswith: '@vendor{i}.example'"),
            1 => format!("client_ip|cidr: '100.{a}.{b}.0/24'"),
            2 => format!("geoip.country_code: [Q{}, X{}]", a % 10, b % 10),
            3 => format!("resource.type: kind_{i}"),
            4 => format!("changes.field|contains: attribute_{i}"),
            5 => format!("initiated_by.username|startswith: svc-{i}-\n    success: false"),
            6 => format!("client_ip|cidr: '2001:db8:{a:x}::/48'"),
            7 => format!("initiated_by.type: robot{i}"),
            8 => {
                let s = rng.pick(SERVICES);
                let _ = writeln!(
                    out,
                    "  sel:\n    service: {s}\n    initiated_by.username|re: '^bot{i}-[0-9]+@'\n  \
                     condition: sel"
                );
                continue;
            }
            _ => {
                let s = rng.pick(SERVICES);
                let _ = writeln!(
                    out,
                    "  sel:\n    service: {s}\n    client_ip|cidr: '198.18.{a}.0/24'\n  \
                     condition: sel"
                );
                continue;
            }
        };
        let _ = writeln!(
            out,
            "  sel:\n    event_type: {et}\n    {pinned}\n  condition: sel"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_rules_load_and_are_deterministic() {
        let text = super::sigma_rules(200, 7);
        assert_eq!(text, super::sigma_rules(200, 7));
        let set = crate::sigma::set::compile(
            &[crate::sigma::set::Source {
                origin: "generated".into(),
                text,
            }],
            &[],
        )
        .unwrap_or_else(|p| panic!("{}", p[0]));
        assert_eq!(set.rules.len(), 200);
        // Most are indexed by event type; some run on every event.
        let any = set.candidates(Some("no_such_type"), Some("sso")).count();
        assert!(any > 3 && any < 40, "{any} rules on any type");
    }
}
