//! SIGTERM and SIGINT: the first asks for a clean stop (stop reading, finish what was read,
//! flush alerts, save state, exit 0); another one more than [`GRACE`] later exits at once
//! (status 130), for when the downstream is stuck. One sooner is the same stop: a terminal's
//! Ctrl-C reaches jcdetect and its parent (Vector's `exec` source) together, and the parent's
//! own SIGTERM follows at once; taken as "exit now" it lost the state file.

use jcdetect::Engine;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Signals this soon after the first are part of the same stop.
pub(crate) const GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Set once a stop was asked for; with [`StopFlag::with_reload`], SIGHUP asks for the config
/// and rules to be read again.
#[derive(Clone)]
pub(crate) struct StopFlag(Arc<AtomicBool>, Option<Arc<Reload>>);

/// What SIGHUP reloads: the `--config` file and the `--rules` paths, as at start.
pub(crate) struct Reload {
    asked: Arc<AtomicBool>,
    config: Option<PathBuf>,
    rules: Vec<PathBuf>,
}

impl StopFlag {
    pub(crate) fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// SIGHUP reloads the config and the Sigma rules from `config` and `rules` (long-running
    /// inputs only: a plain filter keeps SIGHUP's default action).
    pub(crate) fn with_reload(mut self, config: Option<PathBuf>, rules: Vec<PathBuf>) -> StopFlag {
        let asked = Arc::new(AtomicBool::new(false));
        #[cfg(unix)]
        if let Err(e) = signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&asked))
        {
            tracing::warn!("cannot handle SIGHUP: {e}; rules cannot be reloaded");
        }
        self.1 = Some(Arc::new(Reload {
            asked,
            config,
            rules,
        }));
        self
    }

    /// If a SIGHUP came: read the config and rules again and, when they are good, run the
    /// engine on them from here on, keeping the windows of the rules still there. A config
    /// or rule with a problem is reported and the rules in place go on.
    pub(crate) fn reload_if_asked(&self, engine: &mut Engine) {
        let Some(r) = &self.1 else { return };
        if !r.asked.swap(false, Ordering::Relaxed) {
            return;
        }
        match crate::commands::load_config(r.config.as_deref(), &r.rules) {
            Ok((cfg, _)) => {
                let keys = engine.reload(&cfg);
                let s = engine.sigma();
                tracing::info!(
                    "SIGHUP: reloaded the config and rules ({} Sigma rules, {} correlations); \
                     {keys} window keys kept",
                    s.rules.len(),
                    s.correlations.len()
                );
            }
            Err(e) => tracing::error!("SIGHUP: not reloaded, the rules in place go on: {e}"),
        }
    }
}

/// Install the handlers. Without them (not Unix, or registration failed) the flag just
/// never gets set and the signals keep their default action.
pub(crate) fn install() -> StopFlag {
    let flag = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    {
        const SIGNALS: [i32; 2] = [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT];
        for sig in SIGNALS {
            if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&flag)) {
                tracing::warn!("cannot handle signal {sig}: {e}; it will end the run abruptly");
            }
        }
        // The forced exit is armed only GRACE after the stop began (signal-hook's
        // conditional shutdown acts on any signal once the flag is set).
        let armed = Arc::clone(&flag);
        let _ = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                while !armed.load(Ordering::Relaxed) {
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
                std::thread::sleep(GRACE);
                for sig in SIGNALS {
                    let _ = signal_hook::flag::register_conditional_shutdown(
                        sig,
                        130,
                        Arc::clone(&armed),
                    );
                }
            });
    }
    StopFlag(flag, None)
}
