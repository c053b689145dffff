//! Directory changes made by admins (or by users on their own account): user updates,
//! associations, groups, policies, commands, applications, passwords and TOTP, and the rare
//! sensitive changes that each raise a single-event rule.

use crate::replay::events::NONE;
use crate::replay::generator::Gen;
use crate::replay::json::{Frac, J};
use crate::replay::population::{
    bg_ip, APPS, CITIES, DEVICES, HOME_CITIES, POLICIES, SYSTEM_GROUPS, UA_CURL, UA_MAC_CHROME,
    UA_OTHER, UA_WIN_EDGE, USER_GROUPS,
};
use crate::replay::rng::{h2, hex24, Rng};

impl Gen<'_> {
    /// The common head of an admin-made directory change: who, from where, with what.
    /// SCIM provisioning (1 in 4) comes from the identity provider's ip with curl.
    fn admin_head(&mut self, j: &mut J<'_>, scim: bool) -> (String, bool) {
        let a = self.pick_admin();
        let email = self.admin_email(&a);
        let admin_id = hex24(h2(a.h, 21), h2(a.h, 22));
        if scim {
            j.o("initiated_by", |i| {
                i.s("source", "scim")
                    .s("id", &admin_id)
                    .s("type", "admin")
                    .s("email", &email);
            });
            self.geo(j, 10, 0);
            j.raw("useragent", UA_CURL);
            (bg_ip(10 + HOME_CITIES as u64 * 7), true)
        } else {
            j.o("initiated_by", |i| {
                i.s("id", &admin_id).s("type", "admin").s("email", &email);
            });
            let (ip, i) = self.user_ip(&a);
            self.geo(j, a.city, i + 1);
            // Some admins script the API with their key (the "Other" agent of the samples).
            let api = a.h % 7 == 0;
            let ua = match (api, a.h & 1) {
                (true, _) => UA_OTHER,
                (false, 0) => UA_MAC_CHROME,
                _ => UA_WIN_EDGE,
            };
            j.raw("useragent", ua);
            (ip, api)
        }
    }

    fn directory_tail(&mut self, j: &mut J<'_>, api: bool, et: &str, ip: &str, t: i64) {
        j.s("auth_method", if api { "api key" } else { "session" })
            .s("event_type", et)
            .null("provider")
            .s("service", "directory")
            .b("success", true);
        self.envelope_tail(j, Some(ip), t, Frac::Millis);
    }

    pub(super) fn bg_user_update(&mut self, t: i64) {
        let ts = self.bg_time(t, Frac::Millis);
        let target = self.pick_user();
        let scim = self.rng.chance(0.25);
        let provision = scim && self.rng.chance(0.5);
        let mut out = Vec::with_capacity(1200);
        let mut j = J::open(&mut out);
        let (ip, api) = self.admin_head(&mut j, scim);
        self.user_resource(&mut j, &target);
        let mut rules: &[&str] = &["user_updated"];
        let oid1 = hex24(self.rng.next_u64(), self.rng.next_u64());
        let oid2 = hex24(self.rng.next_u64(), self.rng.next_u64());
        let depts = [
            "Engineering",
            "Sales",
            "Marketing",
            "Finance",
            "Support",
            "Operations",
        ];
        let (d1, d2) = (*self.rng.pick(&depts), *self.rng.pick(&depts));
        let changes = match self.rng.below(100) {
            0..=19 => format!(
                r#"[{{"field":"attributes","from":[{{"name":"Division","id":"{oid1}","_id":"{oid1}","value":"{d1}"}}],"to":[{{"name":"Division","id":"{oid2}","_id":"{oid2}","value":"{d2}"}}]}}]"#
            ),
            20..=23 => {
                let c = &CITIES[target.city];
                format!(
                    r#"[{{"field":"addresses","from":[{{"country":"{cc}","poBox":"","streetAddress":"","postalCode":"","locality":"","id":"{oid1}","_id":"{oid1}","region":"","extendedAddress":"","type":"home"}},{{"country":"{cc}","poBox":"","streetAddress":"{n} Market Street","postalCode":"{p}","locality":"{r}","id":"{oid1}","_id":"{oid1}","region":"{rc}","extendedAddress":"","type":"work"}}],"to":[{{"country":"{cc}","poBox":"","streetAddress":"","postalCode":"","locality":"","id":"{oid2}","_id":"{oid2}","region":"","extendedAddress":"","type":"home"}},{{"country":"{cc}","poBox":"","streetAddress":"{n2} Market Street","postalCode":"{p}","locality":"{r}","id":"{oid2}","_id":"{oid2}","region":"{rc}","extendedAddress":"","type":"work"}}]}},{{"field":"location","from":"{r}","to":"{r} HQ"}}]"#,
                    cc = c.cc,
                    r = c.region,
                    rc = c.region_code,
                    n = 10 + t % 90,
                    n2 = 100 + t % 90,
                    p = 10_000 + t.rem_euclid(80_000)
                )
            }
            24..=49 => format!(
                r#"[{{"field":"department","from":"{d1}","to":"{d2}"}},{{"field":"jobTitle","from":"Associate","to":"Senior Associate"}}]"#
            ),
            50..=61 => format!(
                r#"[{{"field":"phoneNumbers","from":[],"to":[{{"type":"mobile","number":"+1 555 01{:02}","id":"{oid2}","_id":"{oid2}"}}]}}]"#,
                t.rem_euclid(100)
            ),
            62..=71 => format!(
                r#"[{{"field":"manager","from":null,"to":"{oid1}"}},{{"field":"employeeType","from":"","to":"Full-time"}}]"#
            ),
            72..=79 => r#"[{"field":"state","from":"ACTIVATED","to":"SUSPENDED"},{"field":"suspended","from":false,"to":true}]"#.into(),
            80..=87 => r#"[{"field":"password_never_expires","from":false,"to":true}]"#.into(),
            // Near misses of user_mfa_weakened: MFA switched on, not off.
            88..=93 => r#"[{"field":"enable_user_portal_multifactor","from":false,"to":true}]"#.into(),
            94..=98 => r#"[{"field":"totp_enabled","from":false,"to":true}]"#.into(),
            _ => {
                rules = &["user_mfa_weakened", "user_updated"];
                r#"[{"field":"enable_user_portal_multifactor","from":true,"to":false}]"#.into()
            }
        };
        j.raw("changes", &changes);
        let et = if provision {
            "user_update_provision"
        } else {
            "user_update"
        };
        if provision {
            rules = NONE;
        }
        self.directory_tail(&mut j, api, et, &ip, ts);
        j.close();
        self.push(t, ts, "directory", et, rules, out);
        self.count_bg(1);
    }

    pub(super) fn bg_association(&mut self, t: i64) {
        let ts = self.bg_time(t, Frac::Millis);
        let u = self.pick_user();
        let add = self.rng.chance(0.7);
        let mut out = Vec::with_capacity(1000);
        let mut j = J::open(&mut out);
        let (ip, api) = self.admin_head(&mut j, false);
        let obj = |r: &mut Rng| hex24(r.next_u64(), r.next_u64());
        let user_ep = (u.name.clone(), "user", u.id.clone());
        let sys_ep = (u.host.clone(), "system", u.sys_id.clone());
        let ug = (
            self.rng.pick(&USER_GROUPS).to_string(),
            "user_group",
            obj(&mut self.rng),
        );
        let sg = (
            self.rng.pick(&SYSTEM_GROUPS).to_string(),
            "system_group",
            obj(&mut self.rng),
        );
        let pol = (
            self.rng.pick(&POLICIES).0.to_string(),
            "policy",
            obj(&mut self.rng),
        );
        let app = (
            self.rng.pick(&APPS).1.to_string(),
            "application",
            obj(&mut self.rng),
        );
        let radius = (
            "Office WiFi".to_string(),
            "radius_server",
            obj(&mut self.rng),
        );
        let mut attributes = "null";
        let (a, b, mut rules): (_, _, Vec<&'static str>) = match self.rng.below(100) {
            0..=39 => (user_ep, ug, vec!["user_added_to_group"]),
            40..=54 => {
                let sudo = self.rng.below(20);
                let mut r = vec!["device_bound_to_user"];
                if sudo == 0 {
                    attributes = r#"{"sudo":{"enabled":true,"withoutPassword":false}}"#;
                    r.insert(0, "device_admin_granted");
                } else if sudo < 4 {
                    attributes = r#"{"sudo":{"enabled":false,"withoutPassword":false}}"#;
                }
                (sys_ep, user_ep, r)
            }
            55..=69 => (sys_ep, sg, vec!["device_added_to_group"]),
            70..=74 => (pol, sg, vec!["policy_bound_to_device_group"]),
            75..=79 => (pol, sys_ep, vec![]),
            80..=91 => (ug, app, vec![]),
            92..=95 => (ug, sg, vec![]),
            _ => (ug, radius, vec![]),
        };
        if !add {
            rules.clear();
        }
        // The catalog matches both orders; DI writes either.
        let (from, to) = if self.rng.chance(0.5) { (a, b) } else { (b, a) };
        let op = if add { "add" } else { "remove" };
        j.o("association", |x| {
            x.s("op", op)
                .s("action_source", if api { "api" } else { "manual" })
                .o("connection", |c| {
                    c.o("from", |f| {
                        f.s("name", &from.0)
                            .s("type", from.1)
                            .s("object_id", &from.2);
                    })
                    .o("to", |f| {
                        f.s("name", &to.0).s("type", to.1).s("object_id", &to.2);
                    });
                })
                .raw("attributes", attributes);
        });
        self.directory_tail(&mut j, api, "association_change", &ip, ts);
        j.close();
        self.push(t, ts, "directory", "association_change", &rules, out);
        self.count_bg(1);
    }

    /// Groups, policies, commands, applications, passwords, TOTP and other directory events.
    pub(super) fn bg_directory_change(&mut self, t: i64) {
        let ts = self.bg_time(t, Frac::Millis);
        let target = self.pick_user();
        let mut out = Vec::with_capacity(900);
        let mut j = J::open(&mut out);
        let pick = self.rng.below(1000);
        let self_service = matches!(pick, 300..=649);
        let (ip, api) = if self_service {
            // The user acts on their own account from the user portal.
            j.o("initiated_by", |i| {
                i.s("id", &target.id)
                    .s("type", "user")
                    .s("username", &target.name);
            });
            let (ip, i) = self.user_ip(&target);
            self.geo(&mut j, target.city, i + 1);
            j.raw("useragent", DEVICES[target.dev].0);
            (ip, false)
        } else {
            self.admin_head(&mut j, false)
        };
        let rid = hex24(self.rng.next_u64(), self.rng.next_u64());
        let (et, rules): (&'static str, &'static [&'static str]) = match pick {
            0..=79 => {
                let (ty, name) = match self.rng.below(10) {
                    0..=5 => ("user_group", *self.rng.pick(&USER_GROUPS)),
                    6..=8 => ("system_group", *self.rng.pick(&SYSTEM_GROUPS)),
                    _ => ("policy_group", "macOS Baseline"),
                };
                j.o("resource", |r| {
                    r.s("id", &rid).s("type", ty).s("name", name);
                })
                .raw(
                    "changes",
                    r#"[{"field":"description","from":"","to":"Managed by IT"}]"#,
                );
                ("group_update", NONE)
            }
            80..=104 => {
                let (ty, name, rules): (_, _, &'static [&'static str]) = match self.rng.below(10) {
                    0..=5 => ("user_group", "Project Falcon", NONE),
                    6..=7 => ("system_group", "Loaner Laptops", NONE),
                    _ => (
                        "policy_group",
                        "Windows Baseline",
                        &["policy_group_created"],
                    ),
                };
                j.o("resource", |r| {
                    r.s("id", &rid).s("type", ty).s("name", name);
                })
                .raw("changes", &format!(r#"[{{"field":"name","to":"{name}"}}]"#));
                ("group_create", rules)
            }
            105..=119 => {
                let (ty, name, rules): (_, _, &'static [&'static str]) = match self.rng.below(10) {
                    0..=4 => ("user_group", "Project Falcon", &["user_group_deleted"]),
                    5..=7 => ("system_group", "Loaner Laptops", &["device_group_deleted"]),
                    _ => ("policy_group", "Legacy Baseline", NONE),
                };
                j.o("resource", |r| {
                    r.s("id", &rid).s("type", ty).s("name", name);
                });
                ("group_delete", rules)
            }
            120..=179 => {
                let p = *self.rng.pick(&POLICIES);
                let (et, rules): (&'static str, &'static [&'static str]) = match self.rng.below(10)
                {
                    0..=6 => ("policy_update", &["policy_updated"]),
                    7..=8 => ("policy_create", &["policy_created"]),
                    _ => ("policy_delete", &["policy_deleted"]),
                };
                j.o("resource", |r| {
                    r.s("id", &rid)
                        .s("type", "policy")
                        .s("name", p.0)
                        .o("template", |x| {
                            x.s("name", p.1);
                        });
                });
                if et == "policy_update" {
                    j.raw("changes", r#"[{"field":"values","from":[{"configFieldName":"timeout","value":"600"}],"to":[{"configFieldName":"timeout","value":"300"}]}]"#);
                }
                (et, rules)
            }
            180..=219 => {
                let name = [
                    "Restart agent",
                    "Collect logs",
                    "Flush DNS cache",
                    "Rotate local admin",
                ][self.rng.below(4) as usize];
                let (et, rules): (&'static str, &'static [&'static str]) = match self.rng.below(10)
                {
                    0..=5 => ("command_run", &["remote_command_run"]),
                    6..=7 => ("command_update", NONE),
                    _ => ("command_create", NONE),
                };
                j.o("resource", |r| {
                    r.s("id", &rid).s("type", "command").s("name", name);
                });
                (et, rules)
            }
            220..=249 => {
                let app = *self.rng.pick(&APPS);
                let (et, rules): (&'static str, &'static [&'static str]) =
                    if self.rng.below(15) == 0 {
                        ("application_create", &["sso_app_added"])
                    } else {
                        ("application_update", NONE)
                    };
                j.o("resource", |r| {
                    r.s("id", &rid)
                        .s("type", "application")
                        .s("name", app.1)
                        .s("displayName", app.0);
                });
                (et, rules)
            }
            250..=299 => {
                self.user_resource(&mut j, &target);
                let (et, rules): (&'static str, &'static [&'static str]) = match self.rng.below(10)
                {
                    0..=4 => ("user_create", &["user_created"]),
                    5..=6 => ("user_delete", &["user_deleted"]),
                    7 => ("user_unlocked", NONE),
                    _ => ("user_create_provision", NONE),
                };
                if et == "user_create" {
                    let email = format!("{}@{}", target.name, self.domain);
                    j.raw("changes", &format!(r#"[{{"field":"username","to":"{}"}},{{"field":"email","to":"{email}"}},{{"field":"activated","to":false}},{{"field":"state","to":"STAGED"}}]"#, target.name));
                }
                (et, rules)
            }
            300..=589 => {
                self.user_resource(&mut j, &target);
                let et = match self.rng.below(10) {
                    0..=4 => "user_password_change",
                    5..=6 => "user_password_reset_request",
                    7 => "user_password_expired",
                    8 => "user_activated",
                    _ => "user_password_set",
                };
                (et, NONE)
            }
            590..=649 => {
                self.user_resource(&mut j, &target);
                let et = if self.rng.chance(0.5) {
                    "totp_start_enrollment"
                } else {
                    "totp_finish_enrollment"
                };
                (et, NONE)
            }
            650..=699 => {
                j.o("resource", |r| {
                    r.s("id", &self.org)
                        .s("type", "organization")
                        .s("displayName", "Northwind Labs");
                })
                .raw(
                    "changes",
                    r#"[{"field":"settings.passwordPolicy.minLength","from":8,"to":12}]"#,
                );
                ("organization_update", NONE)
            }
            700..=719 => {
                let a = self.pick_admin();
                let email = self.admin_email(&a);
                j.o("resource", |r| {
                    r.s("id", &rid).s("type", "admin").s("email", &email);
                });
                // Near miss of admin_mfa_disabled: MFA switched on.
                let ch = if self.rng.chance(0.5) {
                    r#"[{"field":"enableMultiFactor","from":false,"to":true}]"#
                } else {
                    r#"[{"field":"roleName","from":"Help Desk","to":"Manager"}]"#
                };
                j.raw("changes", ch);
                ("admin_update", NONE)
            }
            720..=739 => {
                j.o("resource", |r| {
                    r.s("id", &rid)
                        .s("type", "radius_server")
                        .s("name", "Office WiFi");
                })
                .raw(
                    "changes",
                    r#"[{"field":"networkSourceIp","from":"203.0.113.10","to":"203.0.113.11"}]"#,
                );
                ("radiusserver_update", NONE)
            }
            740..=749 => {
                let et = if self.rng.chance(0.5) {
                    "authnpolicy_update"
                } else {
                    "iplist_update"
                };
                j.o("resource", |r| {
                    r.s("id", &rid)
                        .s(
                            "type",
                            if et == "iplist_update" {
                                "ip_list"
                            } else {
                                "authn_policy"
                            },
                        )
                        .s("name", "Office networks");
                });
                (et, &["conditional_access_changed"])
            }
            _ => {
                j.o("resource", |r| {
                    r.s("id", &rid)
                        .s("type", "system")
                        .s("hostname", &target.host)
                        .s("displayName", &target.host);
                })
                .raw(
                    "changes",
                    r#"[{"field":"allowMultiFactorAuthentication","from":false,"to":true}]"#,
                );
                ("system_update", NONE)
            }
        };
        self.directory_tail(&mut j, api, et, &ip, ts);
        j.close();
        self.push(t, ts, "directory", et, rules, out);
        self.count_bg(1);
    }

    /// Rare sensitive changes, each raising its single-event rule.
    pub(super) fn bg_rare(&mut self, t: i64) {
        let ts = self.bg_time(t, Frac::Millis);
        let target = self.pick_user();
        let mut out = Vec::with_capacity(800);
        let mut j = J::open(&mut out);
        let (ip, api) = self.admin_head(&mut j, false);
        let rid = hex24(self.rng.next_u64(), self.rng.next_u64());
        let email = format!("{}@{}", target.name, self.domain);
        let (service, et, rule): (&'static str, &'static str, &'static str) =
            match self.rng.below(10) {
                0 => ("directory", "admin_create", "admin_privilege_granted"),
                1 => (
                    "directory",
                    "user_group_admin_grant",
                    "admin_privilege_granted",
                ),
                2 => ("directory", "user_admin_granted", "device_admin_granted"),
                3 => ("directory", "admin_totp_disable", "admin_mfa_disabled"),
                4 => ("directory", "admin_update", "api_key_changed"),
                5 => (
                    "directory",
                    "admin_old_api_key_attempt",
                    "expired_api_key_used",
                ),
                6 => ("directory", "totp_delete_enrollment", "user_mfa_weakened"),
                7 => (
                    "password_manager",
                    "passwordmanager_items_export",
                    "credential_export",
                ),
                8 => ("systems", "system_fde_key_decrypt", "disk_key_revealed"),
                _ => ("alerts", "alert_created", "jumpcloud_alert"),
            };
        match et {
            "admin_create" | "admin_totp_disable" => {
                j.o("resource", |r| {
                    r.s("id", &rid).s("type", "admin").s("email", &email);
                });
            }
            "admin_update" => {
                j.o("resource", |r| {
                    r.s("id", &rid).s("type", "admin").s("email", &email);
                })
                .raw(
                    "changes",
                    r#"[{"field":"apiKeyHash","from":"(redacted)","to":"(redacted)"}]"#,
                );
            }
            "user_group_admin_grant" => {
                j.o("resource", |r| {
                    r.s("id", &rid)
                        .s("type", "user_group")
                        .s("name", "IT Admins");
                });
            }
            "system_fde_key_decrypt" => {
                j.o("resource", |r| {
                    r.s("id", &target.sys_id)
                        .s("type", "system")
                        .s("hostname", &target.host);
                });
            }
            "alert_created" => {
                j.s("severity", "high").o("alert", |a| {
                    a.s("id", &rid)
                        .s("rule_name", "Device offline for 7 days")
                        .s("status", "open");
                });
            }
            _ => self.user_resource(&mut j, &target),
        }
        j.s(
            "auth_method",
            if api || et == "admin_old_api_key_attempt" {
                "api key"
            } else {
                "session"
            },
        )
        .s("event_type", et)
        .null("provider")
        .s("service", service)
        .b("success", et != "admin_old_api_key_attempt");
        self.envelope_tail(&mut j, Some(&ip), ts, Frac::Millis);
        j.close();
        self.push(t, ts, service, et, &[rule], out);
        self.count_bg(1);
    }
}
