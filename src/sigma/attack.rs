//! ATT&CK fields from a Sigma rule's tags (`attack.credential-access`, `attack.t1110.003`):
//! tactic ids and names, and the names of the techniques DI rules use.

const TACTICS: &[(&str, &str, &str)] = &[
    ("reconnaissance", "TA0043", "Reconnaissance"),
    ("resource-development", "TA0042", "Resource Development"),
    ("initial-access", "TA0001", "Initial Access"),
    ("execution", "TA0002", "Execution"),
    ("persistence", "TA0003", "Persistence"),
    ("privilege-escalation", "TA0004", "Privilege Escalation"),
    ("defense-evasion", "TA0005", "Defense Evasion"),
    ("credential-access", "TA0006", "Credential Access"),
    ("discovery", "TA0007", "Discovery"),
    ("lateral-movement", "TA0008", "Lateral Movement"),
    ("collection", "TA0009", "Collection"),
    ("command-and-control", "TA0011", "Command and Control"),
    ("exfiltration", "TA0010", "Exfiltration"),
    ("impact", "TA0040", "Impact"),
];

/// Names of the techniques the DI rules use (others are written by id only).
const TECHNIQUES: &[(&str, &str)] = &[
    ("T1072", "Software Deployment Tools"),
    ("T1078", "Valid Accounts"),
    ("T1078.004", "Cloud Accounts"),
    ("T1098", "Account Manipulation"),
    ("T1098.001", "Additional Cloud Credentials"),
    ("T1110", "Brute Force"),
    ("T1110.001", "Password Guessing"),
    ("T1110.003", "Password Spraying"),
    ("T1110.004", "Credential Stuffing"),
    ("T1136", "Create Account"),
    ("T1552", "Unsecured Credentials"),
    ("T1555", "Credentials from Password Stores"),
    ("T1556", "Modify Authentication Process"),
    ("T1556.006", "Multi-Factor Authentication"),
    ("T1562", "Impair Defenses"),
    ("T1621", "Multi-Factor Authentication Request Generation"),
];

fn technique(id: &str) -> (String, String) {
    let name = TECHNIQUES
        .iter()
        .find(|(t, _)| *t == id)
        .map_or("", |(_, n)| n);
    (id.to_string(), name.to_string())
}

/// ATT&CK fields from Sigma tags (`attack.credential-access`, `attack.t1110.003`).
pub fn attack(tags: &[String]) -> [Option<(String, String)>; 3] {
    let (mut tactic, mut tech, mut sub) = (None, None, None);
    for tag in tags {
        let Some(t) = tag
            .to_ascii_lowercase()
            .strip_prefix("attack.")
            .map(str::to_string)
        else {
            continue;
        };
        if let Some(&(_, id, name)) = TACTICS
            .iter()
            .find(|(slug, _, _)| *slug == t || slug.replace('-', "_") == t)
        {
            tactic.get_or_insert((id.to_string(), name.to_string()));
        } else if t.starts_with('t') && t[1..].chars().next().is_some_and(|c| c.is_ascii_digit()) {
            let id = t.to_ascii_uppercase();
            match id.split_once('.') {
                Some((parent, _)) => {
                    tech.get_or_insert(technique(parent));
                    sub.get_or_insert(technique(&id));
                }
                None => {
                    tech.get_or_insert(technique(&id));
                }
            }
        }
    }
    // A sub-technique sits under its own technique, whatever tags come first.
    if let Some((id, _)) = &sub {
        if let Some((parent, _)) = id.split_once('.') {
            tech = Some(technique(parent));
        }
    }
    [tactic, tech, sub]
}
