//! The event shapes the background and the stories share: a login of every channel, the
//! admin console login, the lockout, and the parts many events have (geoip, the envelope
//! tail, ids). The other event types are written where the background draws them
//! (`background/`).

use super::generator::Gen;
use super::json::{deg, local_time, rfc3339, Frac, J};
use super::population::{
    bg_ip, User, APPS, CITIES, DEVICES, HOME_CITIES, UA_MAC_CHROME, UA_WIN_EDGE,
};
use super::rng::{h2, hex24};
use crate::decode::time::NANOS;
use crate::hash::mix64;

/// Single-event rules each template triggers (checked against `catalog.rs` and the cases).
pub(super) const NONE: &[&str] = &[];

/// Login channels a story can use: (event type, service).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chan {
    Portal,
    Sso,
    Radius,
    Device,
    Ldap,
}

impl Chan {
    pub(super) fn service(self) -> &'static str {
        match self {
            Chan::Portal => "directory",
            Chan::Sso => "sso",
            Chan::Radius => "radius",
            Chan::Device => "systems",
            Chan::Ldap => "ldap",
        }
    }
    pub(super) fn event_type(self) -> &'static str {
        match self {
            Chan::Portal => "user_login_attempt",
            Chan::Sso => "sso_auth",
            Chan::Radius => "radius_auth_attempt",
            Chan::Device => "login_attempt",
            Chan::Ldap => "ldap_bind",
        }
    }
}

pub(super) fn chan_frac(c: Chan) -> Frac {
    match c {
        Chan::Radius => Frac::Secs,
        Chan::Sso | Chan::Device => Frac::Nanos,
        Chan::Portal | Chan::Ldap => Frac::Millis,
    }
}

/// A login as a template needs it.
pub(super) struct Login<'a> {
    pub(super) chan: Chan,
    pub(super) user: &'a User,
    pub(super) ok: bool,
    pub(super) mfa: bool,
    pub(super) ip: String,
    pub(super) city: usize,
    /// Coordinates jitter seed (0 = exact city coordinates).
    pub(super) jitter: u64,
    pub(super) t: i64,
}

impl Gen<'_> {
    pub(super) fn oid(&mut self, t: i64) -> String {
        format!(
            "{:08x}{:016x}",
            (t.div_euclid(NANOS)) as u32,
            self.rng.next_u64()
        )
    }

    pub(super) fn uuid_upper(&mut self) -> String {
        let a = self.rng.next_u64();
        let b = self.rng.next_u64();
        format!(
            "{:08X}-{:04X}-3{:03X}-{:04X}-{:012X}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }

    pub(super) fn geo(&self, j: &mut J<'_>, city: usize, jitter: u64) {
        let c = &CITIES[city];
        // ±0.25° (under ~40 km): ips of one city differ a little, never enough to travel.
        let (dlat, dlon) = if jitter == 0 {
            (0, 0)
        } else {
            let h = mix64(jitter);
            ((h % 5001) as i32 - 2500, ((h >> 20) % 5001) as i32 - 2500)
        };
        j.o("geoip", |g| {
            g.s("country_code", c.cc)
                .s("timezone", c.tz)
                .raw("latitude", &deg(c.lat + dlat))
                .s("continent_code", c.continent)
                .s("region_name", c.region)
                .raw("longitude", &deg(c.lon + dlon))
                .s("region_code", c.region_code);
        });
    }

    pub(super) fn envelope_tail(&mut self, j: &mut J<'_>, ip: Option<&str>, t: i64, frac: Frac) {
        j.s("organization", &self.org.clone()).s("@version", "1");
        if let Some(ip) = ip {
            j.s("client_ip", ip);
        }
        let id = self.oid(t);
        j.s("id", &id).s("timestamp", &rfc3339(t, frac));
    }

    // --- logins ------------------------------------------------------------------------

    /// Render a login of any channel.
    pub(super) fn login_line(&mut self, l: &Login<'_>) -> Vec<u8> {
        let mut out = Vec::with_capacity(900);
        let u = l.user;
        let frac = match l.chan {
            Chan::Radius => Frac::Secs,
            Chan::Sso | Chan::Device => Frac::Nanos,
            Chan::Portal | Chan::Ldap => Frac::Millis,
        };
        let mut j = J::open(&mut out);
        match l.chan {
            Chan::Portal => {
                j.o("initiated_by", |i| {
                    i.s("id", &u.id).s("type", "user").s("username", &u.name);
                });
                self.geo(&mut j, l.city, l.jitter);
                j.raw("useragent", DEVICES[u.dev].0);
                let mfa_type = if l.ok && l.mfa {
                    u.portal_mfa.unwrap_or("totp")
                } else {
                    "none"
                };
                j.b("mfa", l.ok && l.mfa)
                    .o("mfa_meta", |m| {
                        m.s("type", mfa_type);
                    })
                    .s("auth_method", "password")
                    .s("event_type", "user_login_attempt")
                    .null("provider")
                    .s("service", "directory")
                    .b("success", l.ok)
                    .s("client_ip", &l.ip);
                let id = self.oid(l.t);
                j.s("id", &id)
                    .s("timestamp", &rfc3339(l.t, frac))
                    .s(
                        "error_message",
                        if l.ok {
                            ""
                        } else {
                            "invalid username or password"
                        },
                    )
                    .s("organization", &self.org)
                    .s("@version", "1");
            }
            Chan::Sso => {
                let app = APPS[(mix64(u.h ^ l.t as u64) % APPS.len() as u64) as usize];
                j.o("initiated_by", |i| {
                    i.s("id", &u.id).s("type", "user").s("username", &u.name);
                });
                j.s(
                    "error_message",
                    if l.ok {
                        ""
                    } else {
                        ["invalid credentials", "not authorized", "user locked"]
                            [(l.t as u64 % 3) as usize]
                    },
                );
                self.geo(&mut j, l.city, l.jitter);
                j.b("sso_token_success", l.ok)
                    .raw("useragent", DEVICES[u.dev].0);
                let (os, host, sys) = (DEVICES[u.dev].1, u.host.as_str(), u.sys_id.as_str());
                // Only logins from a managed device carry the device; only some successes
                // list the policies that allowed them.
                let managed = (u.h >> 30) % 100 < 45;
                j.o("auth_context", |a| {
                    if managed {
                        a.o("system", |s| {
                            s.s("hostname", host)
                                .s("os", os)
                                .s("displayName", host)
                                .s("id", sys)
                                .s("version", if os == "Windows" { "11 Pro" } else { "14.4" });
                        });
                    }
                    a.raw("auth_methods", "{}");
                    if l.ok && l.t % 2 == 0 {
                        a.raw("policies_applied", r#"[{"metadata":{"resource_type":"APPLICATION","action":"ALLOW"},"name":"Global Policy","id":""}]"#);
                    }
                });
                j.b("mfa", l.ok && l.mfa);
                if l.mfa && l.ok {
                    j.raw("mfa_meta", r#"{"type":"totp"}"#);
                }
                let app_id = hex24(
                    h2(self.seed_h, 7_000 + app.1.len() as u64),
                    mix64(app.1.as_bytes()[0] as u64),
                );
                j.s("event_type", "sso_auth")
                    .o("application", |a| {
                        a.s("display_label", app.0)
                            .s("sso_type", "saml")
                            .s("name", app.1)
                            .s("id", &app_id)
                            .s(
                                "sso_url",
                                &format!("https://sso.jumpcloud.com/saml2/{}", app.1),
                            );
                    })
                    .s("provider", "")
                    .s("service", "sso")
                    .s("organization", &self.org)
                    .s("@version", "1")
                    .s("client_ip", &l.ip);
                let id = self.oid(l.t);
                j.s("id", &id)
                    .b("idp_initiated", l.t % 5 == 0)
                    .s("timestamp", &rfc3339(l.t, frac));
            }
            Chan::Radius => {
                const BAD: &str = "mschap: MS-CHAP2-Response is incorrect";
                if l.ok {
                    j.null("error_message");
                } else {
                    j.s("error_message", BAD);
                }
                j.o("initiated_by", |i| {
                    i.s("type", "user").s("username", &u.name);
                })
                .s("auth_type", "eap")
                .s("nas_mfa_state", "DISABLED");
                self.geo(&mut j, l.city, l.jitter);
                j.s("eap_type", "MSCHAPv2").o("outer", |o| {
                    if l.ok {
                        o.null("error_message");
                    } else {
                        o.s("error_message", &format!("eap_peap: The users session was previously rejected: returning reject (again.), eap: Failed continuing EAP PEAP (25) session.  EAP sub-module failed: {BAD}"));
                    }
                    o.s("eap_type", "PEAP").s("username", &u.name);
                });
                j.b("mfa", false)
                    .raw("mfa_meta", r#"{"type":"none"}"#)
                    .raw("auth_meta", r#"{"user_password_enabled":true,"device_cert_enabled":false,"user_cert_enabled":false,"auth_idp":"JUMPCLOUD","userid_type":"USERNAME"}"#)
                    .s("event_type", "radius_auth_attempt")
                    .b("success", l.ok)
                    .s("service", "radius")
                    .s("client_ip", &l.ip);
                let id = self.uuid_upper();
                j.s("id", &id)
                    .s("timestamp", &rfc3339(l.t, frac))
                    .s("username", &u.name)
                    .s("organization", &self.org)
                    .s("@version", "1");
            }
            Chan::Ldap => {
                let dn = format!("uid={},ou=Users,o={},dc=jumpcloud,dc=com", u.name, self.org);
                j.s("auth_method", "simple").s("dn", &dn);
                if l.ok {
                    j.null("error_message");
                } else {
                    j.s(
                        "error_message",
                        "LDAP Result Code 49 \"Invalid Credentials\": ",
                    );
                }
                j.s("event_type", "ldap_bind")
                    .s("service", "ldap")
                    .b("success", l.ok)
                    .b("mfa", false)
                    .s("username", &u.name)
                    .s("client_ip", &l.ip);
                let id = self.oid(l.t);
                j.s("id", &id)
                    .o("initiated_by", |i| {
                        i.s("type", "user").s("username", &u.name);
                    })
                    .s("timestamp", &rfc3339(l.t, frac))
                    .s("organization", &self.org)
                    .s("@version", "1");
            }
            Chan::Device => {
                let (os, host, sys) = (DEVICES[u.dev].1, u.host.clone(), u.sys_id.clone());
                j.o("system", |s| {
                    s.s("id", &sys).s("hostname", &host).s("displayName", &host);
                });
                self.geo(&mut j, l.city, l.jitter);
                let (proc_, method) =
                    match (os, l.ip.starts_with("192.168.") || l.ip.starts_with("10.")) {
                        ("Windows", true) => ("winlogon.exe", "password"),
                        ("Mac OS X", true) => ("loginwindow", "password"),
                        _ => (
                            "sshd",
                            if l.ok && l.t % 3 != 0 {
                                "publickey"
                            } else {
                                "password"
                            },
                        ),
                    };
                let msg = if l.ok {
                    format!("Accepted {method} for {}", u.name)
                } else if proc_ == "sshd" {
                    format!(
                        "Failed password for {} from {} port {} ssh2",
                        u.name,
                        l.ip,
                        30_000 + l.t.rem_euclid(30_000)
                    )
                } else {
                    format!("Authentication failed for {}", u.name)
                };
                let home_ip =
                    bg_ip(u.city as u64 + HOME_CITIES as u64 * (h2(u.h, 100) % self.per_city));
                j.s("event_type", "login_attempt")
                    .s("service", "systems")
                    .s("username", &u.name)
                    .s("organization", &self.org)
                    .s("@version", "1")
                    .s("client_ip", &home_ip)
                    .s("src_ip", &l.ip)
                    .b("success", l.ok)
                    .s("process_name", proc_)
                    .s("auth_method", method)
                    .s("message", &msg)
                    .s("system_timestamp", &local_time(l.t, CITIES[l.city].utc_min));
                let id = self.oid(l.t);
                j.s("id", &id).s("timestamp", &rfc3339(l.t, frac));
            }
        }
        j.close();
        out
    }

    /// Admin console login (modern shape, or 1 in 20 the legacy one with the admin in
    /// `resource`, `country_code2` and no coordinates).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn admin_login_line(
        &mut self,
        email: &str,
        admin_id: &str,
        city: usize,
        ip: &str,
        ok: bool,
        mfa: bool,
        jitter: u64,
        legacy: bool,
        t: i64,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(800);
        let mut j = J::open(&mut out);
        let mfa = ok && mfa;
        let ua = if jitter % 3 == 0 {
            UA_MAC_CHROME
        } else {
            UA_WIN_EDGE
        };
        if legacy {
            let c = &CITIES[city];
            j.o("geoip", |g| {
                g.s("timezone", c.tz)
                    .s("country_code2", c.cc)
                    .s("continent_code", c.continent)
                    .s("region_name", c.region)
                    .s("region_code", c.region_code);
            })
            .s("event_type", "admin_login_attempt")
            .o("resource", |r| {
                r.s("id", admin_id).s("type", "admin").s("email", email);
            })
            .null("provider")
            .b("success", ok)
            .s("organization", &self.org)
            .s("@version", "1")
            .b("mfa", mfa)
            .s("client_ip", ip);
            let id = self.oid(t);
            j.s("id", &id)
                .raw("useragent", ua)
                .s("timestamp", &rfc3339(t, Frac::Millis));
        } else {
            j.o("initiated_by", |i| {
                i.s("id", admin_id).s("type", "admin").s("email", email);
            });
            self.geo(&mut j, city, jitter);
            j.raw("useragent", ua)
                .b("mfa", mfa)
                .raw(
                    "mfa_meta",
                    if mfa {
                        r#"{"type":"totp"}"#
                    } else {
                        r#"{"type":"none"}"#
                    },
                )
                .s("event_type", "admin_login_attempt")
                .null("provider")
                .s("service", "directory")
                .b("success", ok);
            self.envelope_tail(&mut j, Some(ip), t, Frac::Millis);
        }
        j.close();
        out
    }

    pub(super) fn user_resource(&self, j: &mut J<'_>, u: &User) {
        let email = format!("{}@{}", u.name, self.domain);
        j.o("resource", |r| {
            r.s("id", &u.id)
                .s("type", "user")
                .s("username", &u.name)
                .s("email", &email);
        });
    }

    pub(super) fn lockout_line(
        &mut self,
        u: &User,
        systems: bool,
        ip: Option<&str>,
        t: i64,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(800);
        let mut j = J::open(&mut out);
        if systems {
            let (host, sys) = (u.host.clone(), u.sys_id.clone());
            j.o("system", |s| {
                s.s("id", &sys).s("hostname", &host).s("displayName", &host);
            });
            self.geo(&mut j, u.city, 0);
            j.s("event_type", "user_lockout")
                .s("service", "systems")
                .s("username", &u.name)
                .s("organization", &self.org)
                .s("@version", "1")
                .s("src_ip", ip.unwrap_or(&u.lan_ip))
                .s("process_name", "jumpcloud-agent")
                .s("message", "account locked after too many failed attempts")
                .s("system_timestamp", &local_time(t, CITIES[u.city].utc_min));
            let id = self.oid(t);
            j.s("id", &id).s("timestamp", &rfc3339(t, Frac::Nanos));
        } else {
            j.o("initiated_by", |i| {
                i.s("id", &u.id).s("type", "user").s("username", &u.name);
            });
            let (home, i) = self.user_ip(u);
            self.geo(&mut j, u.city, i + 1);
            self.user_resource(&mut j, u);
            j.raw("useragent", DEVICES[u.dev].0)
                .s("event_type", "user_lockout")
                .null("provider")
                .s("service", "directory");
            self.envelope_tail(&mut j, Some(ip.unwrap_or(&home)), t, Frac::Millis);
        }
        j.close();
        out
    }
}
