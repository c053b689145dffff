//! The background's sign-in traffic: logins of every channel (with the failures of a
//! mistyped password), internet ssh scanners, admin console logins, the LDAP searches of
//! service accounts, and lockouts when the guard allows one.

use crate::replay::events::{chan_frac, Chan, Login, NONE};
use crate::replay::generator::Gen;
use crate::replay::json::{rfc3339, Frac, J};
use crate::replay::population::{
    bg_ip, ATTACKER_CITIES, LDAP_CLIENTS, SCAN_NAMES, SERVICE_ACCOUNTS,
};
use crate::replay::rng::{h2, hex24};

impl Gen<'_> {
    /// A user's login: usually one success; sometimes 1–3 failures (a mistyped password)
    /// a few seconds apart, then usually a success.
    pub(super) fn bg_login(&mut self, chan: Chan, budget: u64) {
        let mut user = self.pick_user();
        let (ip, ip_i) = match chan {
            Chan::Ldap => {
                if self.rng.chance(0.8) {
                    let s = *self.rng.pick(&SERVICE_ACCOUNTS);
                    user.name = s.to_string();
                }
                (self.rng.pick(&LDAP_CLIENTS).to_string(), 0)
            }
            Chan::Device if self.rng.chance(0.85) => (user.lan_ip.clone(), 0),
            _ => self.user_ip(&user),
        };
        let mfa = match chan {
            Chan::Portal => user.portal_mfa.is_some(),
            Chan::Sso => user.sso_mfa,
            _ => false,
        };
        let fail_rate = match chan {
            Chan::Portal => 0.06,
            Chan::Sso => 0.04,
            Chan::Radius => 0.07,
            Chan::Device => 0.05,
            Chan::Ldap => 0.015,
        };
        let mut t = self.clock;
        let mut n = 0u64;
        if budget >= 4 && self.rng.chance(fail_rate) {
            let k = [1, 1, 1, 1, 1, 1, 1, 2, 2, 3][self.rng.below(10) as usize];
            for _ in 0..k {
                let frac = chan_frac(chan);
                let ts = self.bg_time(t, frac);
                let svc = chan.service();
                if self.guard.allow_failure(&user.name, svc, Some(&ip), ts) {
                    let l = Login {
                        chan,
                        user: &user,
                        ok: false,
                        mfa,
                        ip: ip.clone(),
                        city: user.city,
                        jitter: ip_i + 1,
                        t: ts,
                    };
                    let line = self.login_line(&l);
                    self.push(t, ts, svc, chan.event_type(), NONE, line);
                    n += 1;
                }
                t += self.rng.secs(4, 40);
            }
            if self.rng.chance(0.1) {
                self.count_bg(n);
                return; // gave up
            }
        }
        let frac = chan_frac(chan);
        let ts = self.bg_time(t, frac);
        let l = Login {
            chan,
            user: &user,
            ok: true,
            mfa,
            ip,
            city: user.city,
            jitter: ip_i + 1,
            t: ts,
        };
        let line = self.login_line(&l);
        self.push(t, ts, chan.service(), chan.event_type(), NONE, line);
        self.count_bg(n + 1);
    }

    /// Internet noise against ssh: a failed device login for a common name from a random ip.
    pub(super) fn bg_scanner(&mut self, t: i64) {
        let name = *self.rng.pick(&SCAN_NAMES);
        let city = ATTACKER_CITIES[self.rng.below(ATTACKER_CITIES.len() as u64) as usize];
        let i = self.rng.below(self.cfg.ips.max(1) * 64);
        let ip = bg_ip(i);
        let ts = self.bg_time(t, Frac::Nanos);
        let hi = self.rng.below(u64::from(self.cfg.users));
        let host = self.user(hi);
        if !self.guard.allow_failure(name, "systems", Some(&ip), ts) {
            return self.bg_login(Chan::Device, 1);
        }
        let mut u = host;
        u.name = name.to_string();
        u.dev = 5; // Linux server
        let l = Login {
            chan: Chan::Device,
            user: &u,
            ok: false,
            mfa: false,
            ip,
            city,
            jitter: i + 1,
            t: ts,
        };
        let line = self.login_line(&l);
        self.push(t, ts, "systems", "login_attempt", NONE, line);
        self.count_bg(1);
    }

    pub(super) fn bg_admin_login(&mut self, budget: u64) {
        let a = self.pick_admin();
        let email = self.admin_email(&a);
        let admin_id = hex24(h2(a.h, 21), h2(a.h, 22));
        let mfa = self.admin_mfa(&a);
        let legacy = self.rng.chance(0.05);
        let (ip, ip_i) = self.user_ip(&a);
        let mut t = self.clock;
        let mut n = 0;
        if budget >= 3 && self.rng.chance(0.03) {
            let ts = self.bg_time(t, Frac::Millis);
            let svc = if legacy { "" } else { "directory" };
            if self.guard.allow_failure(&email, svc, Some(&ip), ts) {
                let line = self.admin_login_line(
                    &email,
                    &admin_id,
                    a.city,
                    &ip,
                    false,
                    mfa,
                    ip_i + 1,
                    legacy,
                    ts,
                );
                self.push(t, ts, svc_of(legacy), "admin_login_attempt", NONE, line);
                n += 1;
            }
            t += self.rng.secs(5, 30);
        }
        let ts = self.bg_time(t, Frac::Millis);
        let line = self.admin_login_line(
            &email,
            &admin_id,
            a.city,
            &ip,
            true,
            mfa,
            ip_i + 1,
            legacy,
            ts,
        );
        let rules: &[&str] = if mfa {
            NONE
        } else {
            &["admin_login_without_mfa"]
        };
        self.push(t, ts, svc_of(legacy), "admin_login_attempt", rules, line);
        self.count_bg(n + 1);
    }

    pub(super) fn bg_ldap_search(&mut self, t: i64) {
        let ts = self.bg_time(t, Frac::Millis);
        let account = *self.rng.pick(&SERVICE_ACCOUNTS);
        let ip = *self.rng.pick(&LDAP_CLIENTS);
        let mut out = Vec::with_capacity(500);
        let mut j = J::open(&mut out);
        let base = format!("ou=Users,o={},dc=jumpcloud,dc=com", self.org);
        j.s("base", &base)
            .s(
                "filter",
                "(&(objectClass=inetOrgPerson)(memberOf=cn=Engineering,ou=Users))",
            )
            .s("scope", "sub")
            .i("number_of_results", 5 + t.rem_euclid(200))
            .s("event_type", "ldap_srch")
            .s("service", "ldap")
            .b("success", true)
            .s("username", account)
            .s("client_ip", ip);
        let id = self.oid(ts);
        j.s("id", &id)
            .o("initiated_by", |i| {
                i.s("type", "user").s("username", account);
            })
            .s("timestamp", &rfc3339(ts, Frac::Millis))
            .s("organization", &self.org)
            .s("@version", "1");
        j.close();
        self.push(t, ts, "ldap", "ldap_srch", NONE, out);
        self.count_bg(1);
    }

    /// A background lockout, when the guard allows one (else an ordinary login).
    pub(super) fn bg_lockout(&mut self, t: i64) {
        let systems = self.rng.chance(0.4);
        let frac = if systems { Frac::Nanos } else { Frac::Millis };
        let ts = self.bg_time(t, frac);
        if !self.guard.allow_lockout(ts) {
            return self.bg_login(Chan::Portal, 1);
        }
        let u = self.pick_user();
        let line = self.lockout_line(&u, systems, None, ts);
        self.push(
            t,
            ts,
            if systems { "systems" } else { "directory" },
            "user_lockout",
            &["account_locked"],
            line,
        );
        self.count_bg(1);
    }
}

/// `service` of an admin login: the legacy shape has none.
fn svc_of(legacy: bool) -> &'static str {
    if legacy {
        "(absent)"
    } else {
        "directory"
    }
}
