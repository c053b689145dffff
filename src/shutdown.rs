//! SIGTERM and SIGINT: the first asks for a clean stop (stop reading, finish what was read,
//! flush alerts, save state, exit 0); a second one while stopping exits at once (status 130),
//! for when the downstream is stuck.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Set once a stop was asked for.
#[derive(Clone)]
pub(crate) struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub(crate) fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Install the handlers. Without them (not Unix, or registration failed) the flag just
/// never gets set and the signals keep their default action.
pub(crate) fn install() -> StopFlag {
    let flag = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // The exit must be registered first: it only acts when the flag is already set.
        let r = signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&flag))
            .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&flag)));
        if let Err(e) = r {
            tracing::warn!("cannot handle signal {sig}: {e}; it will end the run abruptly");
        }
    }
    StopFlag(flag)
}
