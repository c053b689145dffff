//! Events of the other services: what the device agent reports, MDM command results (now
//! and then the ~77 KB ProfileList), password manager, password vault and software events,
//! and the long tail of services and event types JumpCloud does not document.

use crate::replay::events::NONE;
use crate::replay::generator::Gen;
use crate::replay::json::{local_time, rfc3339, Frac, J};
use crate::replay::population::{APPS, CITIES, DEVICES, POLICIES};
use crate::replay::rng::{h2, hex24};

impl Gen<'_> {
    /// Events the agent reports from a device (`systems`), with `src_ip` and local time.
    pub(super) fn bg_device_event(&mut self, t: i64) {
        let ts = self.bg_time(t, Frac::Nanos);
        let u = self.pick_user();
        let et = match self.rng.below(20) {
            0..=5 => "os_minor_upgrade",
            6 => "os_major_upgrade",
            7..=9 => "remote_session_start",
            10..=12 => "remote_session_end",
            13..=14 => "user_password_change",
            15 => "system_fde_key_update",
            16..=17 => "policy_result",
            _ => "command_result",
        };
        let mut out = Vec::with_capacity(700);
        let mut j = J::open(&mut out);
        let (host, sys) = (u.host.clone(), u.sys_id.clone());
        j.o("system", |s| {
            s.s("id", &sys).s("hostname", &host).s("displayName", &host);
        });
        let (ip, i) = self.user_ip(&u);
        self.geo(&mut j, u.city, i + 1);
        j.s("event_type", et)
            .s("service", "systems")
            .s("username", &u.name);
        match et {
            "os_minor_upgrade" => {
                j.s("from_version", "14.3.1").s("to_version", "14.4");
            }
            "os_major_upgrade" => {
                j.s("from_version", "13.6.4").s("to_version", "14.4");
            }
            "policy_result" => {
                j.o("policy", |p| {
                    p.s("name", "FileVault 2").s("id", &sys);
                })
                .b("success", true)
                .i("exit_code", 0);
            }
            "command_result" => {
                j.s("command", "Collect logs")
                    .i("exit_code", 0)
                    .s("output", "logs uploaded (4.2 MB)");
            }
            _ => {}
        }
        j.s("organization", &self.org)
            .s("@version", "1")
            .s("client_ip", &ip)
            .s("src_ip", &u.lan_ip)
            .s("process_name", "jumpcloud-agent")
            .s("system_timestamp", &local_time(ts, CITIES[u.city].utc_min));
        let id = self.oid(ts);
        j.s("id", &id).s("timestamp", &rfc3339(ts, Frac::Nanos));
        j.close();
        self.push(t, ts, "systems", et, NONE, out);
        self.count_bg(1);
    }

    /// MDM command results; one in 400 is the big ProfileList (~77 KB) seen in real data.
    pub(super) fn bg_mdm(&mut self, t: i64) {
        let ts = self.bg_time(t, Frac::Nanos);
        let r = self.rng.below(400);
        let dev = hex24(self.rng.next_u64(), self.rng.next_u64());
        let mgr = hex24(h2(self.seed_h, 31), h2(self.seed_h, 32));
        let cmd_uuid = self.uuid_upper().to_ascii_lowercase();
        let mut out = Vec::with_capacity(if r == 0 { 80_000 } else { 2_000 });
        let mut j = J::open(&mut out);
        let req = match r {
            0 => "ProfileList",
            1..=120 => "DeviceInformation",
            121..=200 => "SecurityInfo",
            201..=260 => "InstallProfile",
            261..=330 => "ProfileList",
            331..=360 => "InstalledApplicationList",
            _ => "DeviceLock",
        };
        j.s("mdm_type", "apple")
            .s("request_type", req)
            .s("mdm_device_id", &dev)
            .s("mdm_device_manager_id", &mgr);
        if req == "InstallProfile" {
            let mut payload = String::from("PD94bWwgdmVyc2lvbj0iMS4wIiBlbmNvZGluZz0iVVRGLTgiPz4K");
            while payload.len() < 2_200 {
                payload.push_str(&self.cert[(payload.len() % 900)..(payload.len() % 900) + 60]);
            }
            j.o("command", |c| {
                c.s("request_type", req).s("payload", &payload);
            });
        } else {
            j.o("command", |c| {
                c.s("request_type", req);
            });
        }
        j.s("event_type", "mdm_command_result")
            .s("command_uuid", &cmd_uuid)
            .s("service", "mdm")
            .s("organization", &self.org)
            .s("@version", "1")
            .null("error_chain");
        let id = self.oid(ts);
        j.s("id", &id);
        match req {
            "ProfileList" => {
                let n = if r == 0 { 17 } else { 2 };
                let mut list = String::from("[");
                for k in 0..n {
                    let p = POLICIES[k % POLICIES.len()];
                    if k > 0 {
                        list.push(',');
                    }
                    let certs = if r == 0 {
                        format!(r#"["{c}","{c}","{c}"]"#, c = self.cert)
                    } else {
                        "[]".into()
                    };
                    list.push_str(&format!(
                        r#"{{"payload_removal_disallowed":true,"signer_certificates":{certs},"payload_identifier":"com.jumpcloud.mdm.policy.{id}.{cmd_uuid}","is_encrypted":false,"payload_uuid":"{cmd_uuid}","payload_organization":"JumpCloud","has_removal_passcode":false,"payload_display_name":"{name}","payload_description":"This policy manages {name} on the device.","payload_verion":1,"payload_content":[{{"payload_type":"com.apple.applicationaccess","payload_version":1,"payload_identifier":"com.jumpcloud.mdm.{id}.applicationaccess.1","payload_uuid":"{cmd_uuid}","payload_organization":"","payload_display_name":"{name} Payload","payload_description":""}}],"is_managed":true}}"#,
                        id = p.1,
                        name = p.0
                    ));
                }
                list.push(']');
                j.raw("profile_list", &list);
            }
            "DeviceInformation" => {
                j.raw("query_responses", r#"{"DeviceName":"MacBook Pro","OSVersion":"14.4","BuildVersion":"23E214","ModelName":"MacBook Pro","Model":"Mac15,3","IsSupervised":true,"IsActivationLockEnabled":false,"AvailableDeviceCapacity":312.4,"DeviceCapacity":494.38}"#);
            }
            "SecurityInfo" => {
                j.raw("security_info", r#"{"FDE_Enabled":true,"FDE_HasPersonalRecoveryKey":true,"FirewallSettings":{"FirewallEnabled":true,"BlockAllIncoming":false,"StealthMode":true},"SystemIntegrityProtectionEnabled":true,"AuthenticatedRootVolumeEnabled":true}"#);
            }
            "InstalledApplicationList" => {
                let mut apps = String::from("[");
                for (k, a) in APPS.iter().enumerate() {
                    if k > 0 {
                        apps.push(',');
                    }
                    apps.push_str(&format!(
                        r#"{{"Name":"{}","Identifier":"com.example.{}","ShortVersion":"{}.{}","BundleSize":{}}}"#,
                        a.0,
                        a.1,
                        3 + k,
                        k * 7 % 10,
                        40_000_000 + k * 1_234_567
                    ));
                }
                apps.push(']');
                j.raw("installed_application_list", &apps);
            }
            _ => {}
        }
        j.s("status", if r % 37 == 5 { "Error" } else { "Acknowledged" })
            .s("timestamp", &rfc3339(ts, Frac::Nanos));
        j.close();
        self.push(t, ts, "mdm", "mdm_command_result", NONE, out);
        self.count_bg(1);
    }

    /// Password manager, password vault and software events made by users.
    pub(super) fn bg_app_event(&mut self, t: i64) {
        let ts = self.bg_time(t, Frac::Millis);
        let u = self.pick_user();
        let (service, et): (&'static str, &'static str) = match self.rng.below(20) {
            0..=3 => ("password_manager", "passwordmanager_item_autofill"),
            4..=5 => ("password_manager", "passwordmanager_item_copy"),
            6 => ("password_manager", "passwordmanager_item_reveal"),
            7..=8 => ("password_manager", "passwordmanager_app_unlock"),
            9 => ("password_manager", "passwordmanager_item_update"),
            10 => ("password_manager", "passwordmanager_extension_unlock"),
            11..=12 => ("password_vault", "passwordvault_credential_autofill"),
            13 => ("password_vault", "passwordvault_credential_viewdetail"),
            14 => ("password_vault", "passwordvault_websites_export"),
            15..=17 => ("software", "software_change"),
            18 => ("software", "software_add"),
            _ => ("software", "software_remove"),
        };
        let mut out = Vec::with_capacity(700);
        let mut j = J::open(&mut out);
        j.o("initiated_by", |i| {
            i.s("id", &u.id).s("type", "user").s("username", &u.name);
        });
        let (ip, i) = self.user_ip(&u);
        self.geo(&mut j, u.city, i + 1);
        j.raw("useragent", DEVICES[u.dev].0)
            .s("event_type", et)
            .s("service", service);
        let rid = hex24(self.rng.next_u64(), self.rng.next_u64());
        if service == "software" {
            let app = *self.rng.pick(&APPS);
            j.o("resource", |r| {
                r.s("id", &rid).s("type", "software_app").s("name", app.0);
            })
            .raw(
                "changes",
                &format!(
                    r#"[{{"field":"version","from":"{}.0","to":"{}.1"}}]"#,
                    4 + t % 5,
                    4 + t % 5
                ),
            );
        } else {
            let site = APPS[(t.rem_euclid(14)) as usize].1;
            j.o("resource", |r| {
                r.s("id", &rid)
                    .s("type", "item")
                    .s("name", &format!("{site}.com"));
            });
        }
        j.b("success", true);
        self.envelope_tail(&mut j, Some(&ip), ts, Frac::Millis);
        j.close();
        self.push(t, ts, service, et, NONE, out);
        self.count_bg(1);
    }

    /// The long tail: notifications, reports, access requests, SaaS discovery, AI
    /// assistants, certificates, and event types JumpCloud does not document.
    pub(super) fn bg_other_service(&mut self, t: i64) {
        let ts = self.bg_time(t, Frac::Nanos);
        const TAIL: [(&str, &str); 16] = [
            ("notifications", "notification_channel_updated"),
            ("reports", "report_run"),
            ("reports", "scheduled_report_run_success"),
            ("access_management", "access_management_access_request"),
            ("saas_app_management", "saas_management_login_event"),
            (
                "saas_app_management",
                "saas_management_application_discover",
            ),
            ("genai", "genai_ai_assistant_chat_message_sent"),
            ("aigw", "aigw_session_activity"),
            ("generic_di", "cert_issued_scep"),
            ("object_storage", "object_storage_get_download_url_request"),
            ("asset_management", "asset_management_asset_update"),
            ("alerts", "alert_updated"),
            // undocumented, seen as "about 30 of 110 types in one tenant"
            ("directory", "user_portal_session_refresh"),
            ("directory", "directory_sync_completed"),
            ("systems", "device_trust_evaluation"),
            ("generic_di", "workflow_step_completed"),
        ];
        let (service, et) = TAIL[self.rng.below(TAIL.len() as u64) as usize];
        let u = self.pick_user();
        let mut out = Vec::with_capacity(600);
        let mut j = J::open(&mut out);
        j.o("initiated_by", |i| {
            i.s("id", &u.id).s("type", "user").s("username", &u.name);
        });
        let (ip, i) = self.user_ip(&u);
        self.geo(&mut j, u.city, i + 1);
        let rid = hex24(self.rng.next_u64(), self.rng.next_u64());
        j.s("event_type", et)
            .s("service", service)
            .o("resource", |r| {
                r.s("id", &rid)
                    .s("type", et.split('_').next().unwrap_or("object"));
            })
            .raw(
                "details",
                r#"{"source":"jumpcloud","status":"ok","attempt":1}"#,
            );
        self.envelope_tail(&mut j, Some(&ip), ts, Frac::Nanos);
        j.close();
        self.push(t, ts, service, et, NONE, out);
        self.count_bg(1);
    }
}
