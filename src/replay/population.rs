//! The organization the replay is about: where its people live (home cities, and the
//! cities the stories need), their names, devices and user agents, the apps, groups,
//! policies and service accounts of its directory, the background and attacker ip spaces,
//! and the users, admins and victims derived from them.

use super::generator::Gen;
use super::rng::{h2, hex24};
use crate::hash::mix64;

#[derive(Debug)]
pub(super) struct City {
    pub(super) cc: &'static str,
    pub(super) region: &'static str,
    pub(super) region_code: &'static str,
    pub(super) continent: &'static str,
    pub(super) tz: &'static str,
    /// Degrees × 10⁴, so coordinates are printed from integers.
    pub(super) lat: i32,
    pub(super) lon: i32,
    /// UTC offset for `system_timestamp` (standard time).
    pub(super) utc_min: i32,
}

#[allow(clippy::too_many_arguments)] // a table row
const fn city(
    cc: &'static str,
    region: &'static str,
    region_code: &'static str,
    continent: &'static str,
    tz: &'static str,
    lat: i32,
    lon: i32,
    utc_min: i32,
) -> City {
    City {
        cc,
        region,
        region_code,
        continent,
        tz,
        lat,
        lon,
        utc_min,
    }
}

/// The first `HOME_CITIES` are where users live (weights in `HOME_WEIGHTS`); the rest serve
/// the stories. No city is in an embargoed country.
#[rustfmt::skip]
pub(super) const CITIES: &[City] = &[
    city("US", "New York", "NY", "NA", "America/New_York", 407128, -740060, -300),
    city("US", "Massachusetts", "MA", "NA", "America/New_York", 423601, -710589, -300),
    city("US", "Illinois", "IL", "NA", "America/Chicago", 418781, -876298, -360),
    city("US", "Colorado", "CO", "NA", "America/Denver", 397392, -1049903, -420),
    city("US", "California", "CA", "NA", "America/Los_Angeles", 377749, -1224194, -480),
    city("US", "Washington", "WA", "NA", "America/Los_Angeles", 476062, -1223321, -480),
    city("US", "Texas", "TX", "NA", "America/Chicago", 302672, -977431, -360),
    city("US", "Georgia", "GA", "NA", "America/New_York", 337490, -843880, -300),
    city("CA", "Ontario", "ON", "NA", "America/Toronto", 436532, -793832, -300),
    city("GB", "England", "ENG", "EU", "Europe/London", 515074, -1278, 0),
    city("IE", "Leinster", "L", "EU", "Europe/Dublin", 533498, -62603, 0),
    city("FR", "Paris", "75", "EU", "Europe/Paris", 488566, 23522, 60),
    city("DE", "Land Berlin", "BE", "EU", "Europe/Berlin", 525200, 134050, 60),
    city("DE", "Bavaria", "BY", "EU", "Europe/Berlin", 481351, 115820, 60),
    city("NL", "North Holland", "NH", "EU", "Europe/Amsterdam", 523676, 49041, 60),
    city("ES", "Madrid", "MD", "EU", "Europe/Madrid", 404168, -37038, 60),
    city("PL", "Mazovia", "14", "EU", "Europe/Warsaw", 522297, 210122, 60),
    city("IN", "Karnataka", "KA", "AS", "Asia/Kolkata", 129716, 775946, 330),
    city("BR", "Sao Paulo", "SP", "SA", "America/Sao_Paulo", -235505, -466333, -180),
    city("AU", "New South Wales", "NSW", "OC", "Australia/Sydney", -338688, 1512093, 600),
    city("JP", "Tokyo", "13", "AS", "Asia/Tokyo", 356762, 1396503, 540),
    city("SG", "Central Singapore", "01", "AS", "Asia/Singapore", 13521, 1038198, 480),
    // stories: neighbours across a border, far cities of one country, attackers
    city("BE", "Brussels Capital", "BRU", "EU", "Europe/Brussels", 508503, 43517, 60), // 22
    city("CH", "Geneva", "GE", "EU", "Europe/Zurich", 462044, 61432, 60),              // 23
    city("FR", "Auvergne-Rhone-Alpes", "ARA", "EU", "Europe/Paris", 457640, 48357, 60), // 24
    city("AT", "Vienna", "9", "EU", "Europe/Vienna", 482082, 163738, 60),              // 25
    city("SK", "Bratislava Region", "BL", "EU", "Europe/Bratislava", 481486, 171077, 60), // 26
    city("DK", "Capital Region", "84", "EU", "Europe/Copenhagen", 556761, 125683, 60), // 27
    city("SE", "Skane County", "M", "EU", "Europe/Stockholm", 556050, 130038, 60),     // 28
    city("AU", "Western Australia", "WA", "OC", "Australia/Perth", -319505, 1158605, 480), // 29
    city("CA", "British Columbia", "BC", "NA", "America/Vancouver", 492827, -1231207, -480), // 30
    city("DE", "Hesse", "HE", "EU", "Europe/Berlin", 501109, 86821, 60),              // 31
    city("RU", "Moscow", "MOW", "EU", "Europe/Moscow", 557558, 376173, 180),           // 32
    city("VN", "Hanoi", "HN", "AS", "Asia/Bangkok", 210278, 1058342, 420),             // 33
    city("US", "Virginia", "VA", "NA", "America/New_York", 390438, -774874, -300),     // 34
    city("RO", "Bucuresti", "B", "EU", "Europe/Bucharest", 444268, 261025, 120),       // 35
];

pub(super) const HOME_CITIES: usize = 22;
#[rustfmt::skip]
const HOME_WEIGHTS: [u32; HOME_CITIES] = [
    14, 9, 8, 5, 12, 6, 6, 4, 5, 9, 3, 6, 4, 3, 4, 3, 3, 6, 3, 3, 2, 2,
];
/// (a, b): successful logins from a then b are two countries but under 500 km apart.
pub(super) const NEIGHBOURS: [(usize, usize); 5] =
    [(9, 14), (23, 24), (25, 26), (27, 28), (22, 11)];
/// (a, b): one country, over 2,500 km apart.
pub(super) const FAR_APART: [(usize, usize); 4] = [(0, 4), (19, 29), (8, 30), (1, 5)];
pub(super) const ATTACKER_CITIES: [usize; 6] = [31, 32, 33, 34, 35, 18];

#[rustfmt::skip]
const FIRST: [&str; 64] = [
    "james", "mary", "robert", "patricia", "john", "jennifer", "michael", "linda", "david",
    "elizabeth", "william", "barbara", "richard", "susan", "joseph", "jessica", "thomas",
    "sarah", "charles", "karen", "chris", "lisa", "daniel", "nancy", "matthew", "betty",
    "anthony", "sandra", "mark", "ashley", "paul", "emily", "steven", "donna", "andrew",
    "michelle", "kevin", "carol", "brian", "amanda", "george", "melissa", "timothy",
    "deborah", "ronald", "laura", "jason", "rebecca", "edward", "sharon", "ryan", "cynthia",
    "jacob", "kathleen", "gary", "amy", "nicolas", "angela", "eric", "anna", "stephen",
    "brenda", "priya", "yuki",
];
#[rustfmt::skip]
const LAST: [&str; 80] = [
    "smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis",
    "rodriguez", "martinez", "hernandez", "lopez", "gonzalez", "wilson", "anderson",
    "thomas", "taylor", "moore", "jackson", "martin", "lee", "perez", "thompson", "white",
    "harris", "sanchez", "clark", "ramirez", "lewis", "robinson", "walker", "young", "allen",
    "king", "wright", "scott", "torres", "nguyen", "hill", "flores", "green", "adams",
    "nelson", "baker", "hall", "rivera", "campbell", "mitchell", "carter", "roberts",
    "dubois", "moreau", "laurent", "muller", "schmidt", "schneider", "fischer", "weber",
    "kowalski", "nowak", "rossi", "russo", "ferrari", "silva", "santos", "oliveira",
    "sato", "suzuki", "tanaka", "patel", "sharma", "singh", "kumar", "murphy", "kelly",
    "obrien", "byrne", "jansen", "devries", "okafor",
];

pub(super) const UA_MAC_CHROME: &str = r#"{"os":"Mac OS X","minor":"0","os_minor":"15","os_version":"10.15.7","os_major":"10","version":"122.0.0.0","os_patch":"7","patch":"0","os_full":"Mac OS X 10.15.7","major":"122","name":"Chrome","os_name":"Mac OS X","device":"Mac"}"#;
const UA_MAC_FIREFOX: &str = r#"{"os_full":"Mac OS X 10.15","minor":"0","os":"Mac OS X","major":"123","os_minor":"15","os_major":"10","os_version":"10.15","name":"Firefox","os_name":"Mac OS X","device":"Mac","version":"123.0"}"#;
const UA_MAC_SAFARI: &str = r#"{"os":"Mac OS X","minor":"3","os_minor":"15","os_version":"10.15.7","os_major":"10","version":"17.3.1","os_patch":"7","patch":"1","os_full":"Mac OS X 10.15.7","major":"17","name":"Safari","os_name":"Mac OS X","device":"Mac"}"#;
pub(super) const UA_WIN_EDGE: &str = r#"{"os":"Windows","name":"Edge","major":"122","minor":"0","patch":"0","device":"Other","os_full":"Windows 10","os_name":"Windows","version":"122.0.0.0","os_major":"10","os_version":"10"}"#;
const UA_WIN_CHROME: &str = r#"{"os":"Windows","name":"Chrome","major":"121","minor":"0","patch":"0","device":"Other","os_full":"Windows 10","os_name":"Windows","version":"121.0.0.0","os_major":"10","os_version":"10"}"#;
const UA_LINUX_FIREFOX: &str = r#"{"os_full":"Linux","minor":"0","os":"Linux","major":"115","name":"Firefox","os_name":"Linux","device":"Other","version":"115.0"}"#;
const UA_IPHONE: &str = r#"{"os":"iOS","name":"Mobile Safari","major":"17","minor":"3","device":"iPhone","os_full":"iOS 17.3.1","os_name":"iOS","version":"17.3","os_major":"17","os_minor":"3","os_version":"17.3.1","patch":"","os_patch":"1"}"#;
pub(super) const UA_CURL: &str = r#"{"patch":"0","os_full":"Other","minor":"4","major":"8","os":"Other","name":"curl","os_name":"Other","device":"Other","version":"8.4.0"}"#;
pub(super) const UA_OTHER: &str =
    r#"{"os_full":"Other","os":"Other","name":"Other","os_name":"Other","device":"Other"}"#;

/// (user agent, device OS, hostname suffix, weight).
pub(super) const DEVICES: [(&str, &str, &str, u32); 7] = [
    (UA_MAC_CHROME, "Mac OS X", "-MBP", 30),
    (UA_MAC_FIREFOX, "Mac OS X", "-MAC", 6),
    (UA_MAC_SAFARI, "Mac OS X", "-MBA", 6),
    (UA_WIN_EDGE, "Windows", "-WIN11", 24),
    (UA_WIN_CHROME, "Windows", "-LAPTOP", 20),
    (UA_LINUX_FIREFOX, "Linux", "-UBUNTU", 6),
    (UA_IPHONE, "Mac OS X", "-MBP", 8),
];

/// (display label, name) of SSO applications.
pub(super) const APPS: [(&str, &str); 14] = [
    ("Google Workspace", "google"),
    ("Slack", "slack"),
    ("Zoom", "zoom"),
    ("Salesforce", "salesforce"),
    ("Atlassian Cloud", "atlassian"),
    ("GitHub", "github"),
    ("AWS IAM Identity Center", "aws"),
    ("Microsoft 365", "office365"),
    ("Zendesk", "zendesk"),
    ("Workday", "workday"),
    ("Box", "box"),
    ("Notion", "notion"),
    ("Figma", "figma"),
    ("1Password", "onepassword"),
];

pub(super) const USER_GROUPS: [&str; 12] = [
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "IT Admins",
    "Contractors",
    "All Staff",
    "Support",
    "Legal",
    "People Ops",
    "VPN Users",
    "WiFi Users",
];
pub(super) const SYSTEM_GROUPS: [&str; 6] = [
    "macOS Laptops",
    "Windows Workstations",
    "Linux Servers",
    "Build Agents",
    "Kiosks",
    "Executive Devices",
];
pub(super) const POLICIES: [(&str, &str); 8] = [
    ("Screen lock - macOS", "screen_lock_darwin"),
    ("FileVault 2", "filevault_darwin"),
    ("BitLocker", "bitlocker_windows"),
    ("Firewall - macOS", "firewall_darwin"),
    ("Windows Update", "windows_update_windows"),
    ("Screen lock - Linux", "screen_lock_linux"),
    ("USB mass storage", "usb_storage_windows"),
    ("Gatekeeper", "gatekeeper_darwin"),
];
pub(super) const SERVICE_ACCOUNTS: [&str; 10] = [
    "svc-wiki",
    "svc-jenkins",
    "svc-gitlab",
    "svc-jira",
    "svc-confluence",
    "svc-vpn",
    "svc-printer",
    "svc-nextcloud",
    "svc-grafana",
    "svc-backup",
];
pub(super) const LDAP_CLIENTS: [&str; 5] = [
    "10.20.4.17",
    "10.20.4.18",
    "10.20.7.31",
    "10.30.1.5",
    "172.20.0.12",
];
#[rustfmt::skip]
pub(super) const SCAN_NAMES: [&str; 24] = [
    "root", "admin", "ubuntu", "test", "oracle", "postgres", "user", "ftp", "git", "pi",
    "deploy", "guest", "www-data", "mysql", "support", "dev", "jenkins", "ansible", "ec2-user",
    "centos", "debian", "nagios", "hadoop", "tomcat",
];

/// First octets of the background ip space; attacker ips use others (`ATTACK_PREFIXES`).
#[rustfmt::skip]
const BG_PREFIXES: [u8; 40] = [
    24, 50, 64, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 86,
    87, 88, 89, 90, 92, 94, 95, 96, 97, 98, 99, 108, 109, 174, 176, 178, 212,
];
const ATTACK_PREFIXES: [u8; 5] = [185, 45, 193, 91, 194];

/// The background ip with index `i`: IPv4 mostly, one in eight IPv6; distinct indices give
/// distinct addresses.
pub(super) fn bg_ip(i: u64) -> String {
    if mix64(i ^ 0x7f4a) & 7 == 0 {
        return format!(
            "2a02:{:x}:{:x}:{:x}:{:x}::1",
            0x8000 | (i >> 48) & 0x7fff,
            (i >> 32) & 0xffff,
            (i >> 16) & 0xffff,
            i & 0xffff
        );
    }
    let p = BG_PREFIXES[(i % 40) as usize];
    // Multiplying by an odd constant is a bijection on 24 bits.
    let h = ((i / 40).wrapping_mul(0x9e37_79b1)) & 0xff_ffff;
    format!("{p}.{}.{}.{}", h >> 16, (h >> 8) & 255, h & 255)
}

fn attack_ip(n: u64) -> String {
    let p = ATTACK_PREFIXES[(n % 5) as usize];
    let h = ((n / 5 + 1).wrapping_mul(0x2545_f491)) & 0xff_ffff;
    format!("{p}.{}.{}.{}", h >> 16, (h >> 8) & 255, h & 255)
}

/// A directory user, derived from (seed, index) on demand.
pub(super) struct User {
    pub(super) name: String,
    pub(super) id: String,
    pub(super) city: usize,
    /// Index of the user's device in `DEVICES`.
    pub(super) dev: usize,
    /// MFA type used on portal logins, `None` when the user has no MFA there.
    pub(super) portal_mfa: Option<&'static str>,
    pub(super) sso_mfa: bool,
    pub(super) host: String,
    pub(super) sys_id: String,
    pub(super) lan_ip: String,
    pub(super) h: u64,
}

impl Gen<'_> {
    pub(super) fn user(&self, u: u64) -> User {
        let h = h2(self.seed_h, u);
        let mut name = format!(
            "{}.{}",
            FIRST[(u % 64) as usize],
            LAST[((u / 64) % 80) as usize]
        );
        if u >= 64 * 80 {
            name.push_str(&(u / (64 * 80)).to_string());
        }
        let w = |x: u64, ws: &[u32]| {
            let total: u64 = ws.iter().map(|&v| u64::from(v)).sum();
            let mut r = x % total;
            for (i, &v) in ws.iter().enumerate() {
                if r < u64::from(v) {
                    return i;
                }
                r -= u64::from(v);
            }
            0
        };
        let city = w(h >> 8, &HOME_WEIGHTS);
        let dev_w: Vec<u32> = DEVICES.iter().map(|d| d.3).collect();
        let dev = w(h >> 20, &dev_w);
        let portal_mfa = match (h >> 36) % 100 {
            0..=59 => Some("totp"),
            60..=79 => Some("duo"),
            _ => None,
        };
        let first = name.as_bytes()[0].to_ascii_uppercase() as char;
        let last: String = name
            .split('.')
            .nth(1)
            .unwrap_or("")
            .chars()
            .filter(char::is_ascii_alphabetic)
            .collect::<String>()
            .to_ascii_uppercase();
        let lan_ip = if (h >> 44) & 1 == 0 {
            format!(
                "192.168.{}.{}",
                [0, 1, 1, 1, 10, 50, 86, 178][((h >> 45) & 7) as usize],
                2 + (h >> 48) % 250
            )
        } else {
            format!(
                "10.{}.{}.{}",
                10 + (h >> 45) % 20,
                (h >> 50) % 64,
                2 + (h >> 56) % 250
            )
        };
        User {
            id: hex24(h2(h, 11), h2(h, 12)),
            city,
            dev,
            portal_mfa,
            sso_mfa: (h >> 40) % 10 == 0,
            host: format!("{first}{last}{}", DEVICES[dev].2),
            sys_id: hex24(h2(h, 13), h2(h, 14)),
            lan_ip,
            name,
            h,
        }
    }

    /// A fresh account that no background event uses.
    pub(super) fn victim(&mut self, city: usize) -> User {
        self.victims += 1;
        let mut u = self.user(10_000_000 + self.victims);
        u.city = city;
        u
    }

    pub(super) fn fresh_attack_ip(&mut self) -> String {
        self.attack_ips += 1;
        attack_ip(self.attack_ips)
    }

    /// A background ip of the user: one of 3 home ips, or a roaming draw from its city.
    pub(super) fn user_ip(&mut self, u: &User) -> (String, u64) {
        let r = if self.rng.chance(self.cfg.roaming) {
            self.rng.below(self.per_city)
        } else {
            h2(u.h, 100 + self.rng.below(3)) % self.per_city
        };
        let i = u.city as u64 + HOME_CITIES as u64 * r;
        (bg_ip(i), i)
    }

    pub(super) fn pick_user(&mut self) -> User {
        // Activity is skewed: low indices log in more.
        let n = u64::from(self.cfg.users);
        let a = self.rng.below(n);
        let u = if self.rng.chance(0.5) {
            a.min(self.rng.below(n))
        } else {
            a
        };
        self.user(u)
    }

    pub(super) fn pick_admin(&mut self) -> User {
        let u = self.rng.below(u64::from(self.cfg.admins));
        self.user(u)
    }

    pub(super) fn admin_email(&self, u: &User) -> String {
        format!("{}@{}", u.name, self.domain)
    }

    /// Admins without console MFA (about 1 in 12): their successful logins raise
    /// `admin_login_without_mfa`.
    pub(super) fn admin_mfa(&self, u: &User) -> bool {
        (u.h >> 52) % 12 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ips_are_distinct_and_never_attackers() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..200_000u64 {
            let ip = bg_ip(i);
            assert!(seen.insert(ip.clone()), "{ip} repeats");
            let first: u8 = ip.split('.').next().unwrap().parse().unwrap_or(0);
            assert!(!ATTACK_PREFIXES.contains(&first), "{ip}");
        }
        let a: std::collections::HashSet<String> = (1..5_000).map(attack_ip).collect();
        assert_eq!(a.len(), 4_999);
    }

    #[test]
    fn story_pairs_are_what_the_rules_need() {
        use crate::windows::haversine_km;
        let km = |a: usize, b: usize| {
            let (p, q) = (&CITIES[a], &CITIES[b]);
            haversine_km(
                f64::from(p.lat) / 1e4,
                f64::from(p.lon) / 1e4,
                f64::from(q.lat) / 1e4,
                f64::from(q.lon) / 1e4,
            )
        };
        for (a, b) in NEIGHBOURS {
            assert_ne!(CITIES[a].cc, CITIES[b].cc);
            assert!(km(a, b) < 450.0, "{a}-{b}: {}", km(a, b));
        }
        for (a, b) in FAR_APART {
            assert_eq!(CITIES[a].cc, CITIES[b].cc);
            // 2,500 km in at most 50 min is far above 1,000 km/h.
            assert!(km(a, b) > 2_500.0, "{a}-{b}: {}", km(a, b));
        }
        for c in CITIES {
            assert!(!["CU", "IR", "KP", "SY"].contains(&c.cc));
        }
    }
}
