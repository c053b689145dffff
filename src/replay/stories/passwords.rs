//! Password attacks, each from a fresh attacker ip against fresh victims: a spray, credential
//! stuffing, brute force (with or without the final success), a lockout wave, and an SSO
//! failure burst.

use super::{Draft, Kind, Story};
use crate::decode::time::NANOS;
use crate::replay::events::{chan_frac, Chan};
use crate::replay::generator::Gen;
use crate::replay::json::Frac;
use crate::replay::population::{User, HOME_CITIES};
use crate::replay::rng::Rng;

impl Gen<'_> {
    /// Failed logins for many accounts from one ip, across portal, SSO and RADIUS.
    pub(super) fn spray(
        &mut self,
        s: &Story,
        r: &mut Rng,
        attacker_city: usize,
        mut t: i64,
        d: &mut Draft,
    ) {
        let ip = self.fresh_attack_ip();
        let gap = 300 * NANOS / i64::from(s.n);
        for k in 0..s.n {
            let chan = [Chan::Portal, Chan::Sso, Chan::Radius][(k % 3) as usize];
            let v = self.victim(r.below(HOME_CITIES as u64) as usize);
            t = chan_frac(chan).truncate(t);
            d.events
                .push(self.story_login(chan, &v, false, false, &ip, attacker_city, t));
            t += gap / 2 + r.below(gap as u64) as i64 + NANOS;
        }
        d.expect.push(("password_spray_from_ip", ip));
    }

    /// Failures for several accounts from one ip, then a success for one of them.
    pub(super) fn stuffing(
        &mut self,
        s: &Story,
        r: &mut Rng,
        attacker_city: usize,
        mut t: i64,
        d: &mut Draft,
    ) {
        let ip = self.fresh_attack_ip();
        let victims: Vec<User> = (0..s.n)
            .map(|_| self.victim(r.below(HOME_CITIES as u64) as usize))
            .collect();
        for v in &victims {
            t = Frac::Millis.truncate(t);
            d.events
                .push(self.story_login(Chan::Portal, v, false, false, &ip, attacker_city, t));
            t += r.secs(8, 25);
        }
        t += r.secs(600, 1_800);
        let v = &victims[r.below(victims.len() as u64) as usize];
        t = Frac::Millis.truncate(t);
        d.events
            .push(self.story_login(Chan::Portal, v, true, false, &ip, attacker_city, t));
        d.expect.push(("credential_stuffing_success", ip));
    }

    /// Failures for one account and service, then (`Kind::Brute`) a success.
    pub(super) fn brute_force(
        &mut self,
        s: &Story,
        r: &mut Rng,
        attacker_city: usize,
        mut t: i64,
        d: &mut Draft,
    ) {
        let chan = if s.kind == Kind::Brute {
            brute_chan(s.variant)
        } else {
            [Chan::Portal, Chan::Radius, Chan::Device, Chan::Ldap][(s.variant % 4) as usize]
        };
        let ip = if chan == Chan::Ldap {
            self.attack_ips += 1;
            format!(
                "10.251.{}.{}",
                (self.attack_ips / 250) % 250,
                2 + self.attack_ips % 250
            )
        } else {
            self.fresh_attack_ip()
        };
        let v = self.victim(r.below(HOME_CITIES as u64) as usize);
        for _ in 0..s.n {
            t = chan_frac(chan).truncate(t);
            d.events
                .push(self.story_login(chan, &v, false, false, &ip, attacker_city, t));
            t += r.secs(15, 45);
        }
        let key = format!("{}|{}", v.name, chan.service());
        d.expect.push(("brute_force_attempts", key.clone()));
        if s.kind == Kind::Brute {
            t = chan_frac(chan).truncate(t);
            d.events
                .push(self.story_login(chan, &v, true, false, &ip, attacker_city, t));
            d.expect.push(("brute_force_then_success", key));
        }
    }

    /// Accounts of the organization locked out one after another, each after 2 failures.
    pub(super) fn lockout_wave(
        &mut self,
        s: &Story,
        r: &mut Rng,
        attacker_city: usize,
        mut t: i64,
        d: &mut Draft,
    ) {
        let ip = self.fresh_attack_ip();
        for k in 0..s.n {
            let v = self.victim(r.below(HOME_CITIES as u64) as usize);
            for _ in 0..2 {
                t = Frac::Millis.truncate(t);
                d.events.push(self.story_login(
                    Chan::Portal,
                    &v,
                    false,
                    false,
                    &ip,
                    attacker_city,
                    t,
                ));
                t += r.secs(3, 10);
            }
            let systems = k % 2 == 1;
            t = if systems { t } else { Frac::Millis.truncate(t) };
            let line = self.lockout_line(&v, systems, Some(&ip), t);
            let svc = if systems { "systems" } else { "directory" };
            d.events
                .push((t, svc, "user_lockout", &["account_locked"], line));
            t += r.secs(30, 120);
        }
        d.expect
            .push(("multiple_accounts_locked", self.org.clone()));
    }

    /// Failed `sso_auth` for one account in quick succession.
    pub(super) fn sso_burst(
        &mut self,
        s: &Story,
        r: &mut Rng,
        attacker_city: usize,
        mut t: i64,
        d: &mut Draft,
    ) {
        let ip = self.fresh_attack_ip();
        let v = self.victim(r.below(HOME_CITIES as u64) as usize);
        for _ in 0..s.n {
            d.events
                .push(self.story_login(Chan::Sso, &v, false, false, &ip, attacker_city, t));
            t += r.secs(10, 40);
        }
        d.expect
            .push(("brute_force_attempts", format!("{}|sso", v.name)));
        d.expect.push(("sso_failure_burst", v.name.clone()));
    }
}

/// The channel of a brute-force story that ends in a success (`Kind::Brute`); `plan` sizes
/// the story by it.
pub(super) fn brute_chan(variant: u64) -> Chan {
    [Chan::Portal, Chan::Radius, Chan::Device, Chan::Sso][(variant % 4) as usize]
}
