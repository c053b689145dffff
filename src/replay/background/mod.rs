//! The background: ordinary traffic of the organization, drawn one unit at a time from a
//! weighted mix (logins dominate). Each generator writes its own event types.
//!
//! - `logins.rs`: sign-ins of every channel with their mistyped-password failures, ssh
//!   scanners, admin console logins, LDAP searches, guarded lockouts.
//! - `directory.rs`: admin-made directory changes, and the rare sensitive ones.
//! - `services.rs`: the device agent, MDM, password manager and vault, software, and the
//!   long tail of other services and undocumented types.

mod directory;
mod logins;
mod services;

use super::events::Chan;
use super::generator::Gen;

impl Gen<'_> {
    /// One unit of background activity at the clock: a login (maybe with a few failures
    /// first), or one other event. Writes at most `budget` events.
    pub(super) fn background_unit(&mut self, budget: u64) {
        // Weights per 10,000 background units.
        const W: [u32; 16] = [
            1_400, // 0 portal login
            1_900, // 1 sso
            850,   // 2 radius
            1_750, // 3 ldap bind / search (service accounts bind all day)
            1_400, // 4 device login
            60,    // 5 internet ssh scanner
            150,   // 6 admin console login
            420,   // 7 user update (admin or SCIM)
            260,   // 8 association change
            300,   // 9 other directory change
            300,   // 10 device events (systems, directory system_*)
            150,   // 11 mdm
            360,   // 12 password manager / vault, software
            250,   // 13 other services and undocumented types
            12,    // 14 lockout (guarded)
            10,    // 15 rare sensitive changes
        ];
        let t = self.clock;
        match self.rng.weighted(&W) {
            0 => self.bg_login(Chan::Portal, budget),
            1 => self.bg_login(Chan::Sso, budget),
            2 => self.bg_login(Chan::Radius, budget),
            3 => {
                if self.rng.chance(0.3) {
                    self.bg_ldap_search(t)
                } else {
                    self.bg_login(Chan::Ldap, budget)
                }
            }
            4 => self.bg_login(Chan::Device, budget),
            5 => self.bg_scanner(t),
            6 => self.bg_admin_login(budget),
            7 => self.bg_user_update(t),
            8 => self.bg_association(t),
            9 => self.bg_directory_change(t),
            10 => self.bg_device_event(t),
            11 => self.bg_mdm(t),
            12 => self.bg_app_event(t),
            13 => self.bg_other_service(t),
            14 => self.bg_lockout(t),
            _ => self.bg_rare(t),
        }
    }

    fn count_bg(&mut self, n: u64) {
        self.bg_events += n;
    }
}
