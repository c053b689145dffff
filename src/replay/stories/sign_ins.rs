//! Suspicious successful sign-ins of a fresh victim: an admin or a user in two neighbouring
//! countries within an hour, two far cities of one country within an hour (impossible
//! travel), and a login with MFA followed by one of the same kind without it.

use super::{Draft, Kind, Story};
use crate::replay::events::{chan_frac, Chan, NONE};
use crate::replay::generator::Gen;
use crate::replay::json::Frac;
use crate::replay::population::{bg_ip, FAR_APART, HOME_CITIES, NEIGHBOURS};
use crate::replay::rng::{h2, hex24, Rng};

impl Gen<'_> {
    /// An admin signs in from two neighbouring countries.
    pub(super) fn admin_country(&mut self, s: &Story, r: &mut Rng, mut t: i64, d: &mut Draft) {
        let (a, b) = NEIGHBOURS[(s.variant % NEIGHBOURS.len() as u64) as usize];
        let v = self.victim(a);
        let email = self.admin_email(&v);
        let admin_id = hex24(h2(v.h, 21), h2(v.h, 22));
        let ip_a = bg_ip(
            a as u64 % HOME_CITIES as u64 + HOME_CITIES as u64 * (h2(v.h, 5) % self.per_city),
        );
        let ip_b = self.fresh_attack_ip();
        t = Frac::Millis.truncate(t);
        let l1 = self.admin_login_line(&email, &admin_id, a, &ip_a, true, true, 0, false, t);
        d.events
            .push((t, "directory", "admin_login_attempt", NONE, l1));
        t = Frac::Millis.truncate(t + r.secs(1_200, 3_000));
        let l2 = self.admin_login_line(&email, &admin_id, b, &ip_b, true, true, 0, false, t);
        d.events
            .push((t, "directory", "admin_login_attempt", NONE, l2));
        d.expect.push(("admin_multi_country_login", email));
    }

    /// A user signs in from two neighbouring countries, or (`Kind::Travel`) from two far
    /// cities of one country.
    pub(super) fn country_or_travel(&mut self, s: &Story, r: &mut Rng, mut t: i64, d: &mut Draft) {
        let (a, b) = if s.kind == Kind::Travel {
            FAR_APART[(s.variant % FAR_APART.len() as u64) as usize]
        } else {
            NEIGHBOURS[(s.variant % NEIGHBOURS.len() as u64) as usize]
        };
        let chan = if s.variant % 3 == 0 {
            Chan::Sso
        } else {
            Chan::Portal
        };
        let v = self.victim(a);
        let ip_a = bg_ip(
            a as u64 % HOME_CITIES as u64 + HOME_CITIES as u64 * (h2(v.h, 5) % self.per_city),
        );
        let ip_b = self.fresh_attack_ip();
        // The same MFA use on both logins, so only the rule under test can fire.
        t = chan_frac(chan).truncate(t);
        d.events
            .push(self.story_login(chan, &v, true, true, &ip_a, a, t));
        t = chan_frac(chan).truncate(t + r.secs(600, 3_000));
        d.events
            .push(self.story_login(chan, &v, true, true, &ip_b, b, t));
        let rule = if s.kind == Kind::Travel {
            "impossible_travel"
        } else {
            "user_multi_country_login"
        };
        d.expect.push((rule, v.name.clone()));
    }

    /// A login with MFA, then one of the same kind without it.
    pub(super) fn mfa_bypass(&mut self, s: &Story, r: &mut Rng, mut t: i64, d: &mut Draft) {
        let chan = if s.variant % 2 == 0 {
            Chan::Portal
        } else {
            Chan::Sso
        };
        let home = r.below(HOME_CITIES as u64) as usize;
        let v = self.victim(home);
        let ip = bg_ip(home as u64 + HOME_CITIES as u64 * (h2(v.h, 5) % self.per_city));
        t = chan_frac(chan).truncate(t);
        d.events
            .push(self.story_login(chan, &v, true, true, &ip, home, t));
        t = chan_frac(chan).truncate(t + r.secs(600, 2_400));
        d.events
            .push(self.story_login(chan, &v, true, false, &ip, home, t));
        d.expect.push((
            "mfa_bypass_suspected",
            format!("{}|{}", v.name, chan.event_type()),
        ));
    }
}
