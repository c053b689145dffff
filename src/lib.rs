//! jcdetect: a stateful detection transform for JumpCloud Directory Insights events.
//!
//! The core is pure: bytes in, alerts out, time taken from the events. The CLI
//! (`src/cli/`), the WASM modules (`wasm/`) and the benches are thin shells around
//! [`Engine`]. The modules follow the data path of one line:
//!
//! ```text
//! frame ─▶ decode ─▶ rules ─▶ windows ─▶ alert ─▶ (caller writes)
//!   │         │         │         │          │
//!   lines     Event     single-   stateful   ECS / OCSF
//!   of a      (fields   event     rules on   records
//!   chunk     rules     matches   event-time
//!             read)               windows
//! ```
//!
//! [`sigma`] compiles Sigma rule files (users' rules) into matchers and correlation specs.
//! [`engine`] drives a line through them; [`state`] is the versioned file the windows are
//! saved in; [`config`] turns TOML into the settings of rules and windows; [`diag`] counts and
//! reports bad input; [`hash`] holds the stable hashes (state keys, alert ids). A module only
//! uses modules before it in this order (no cycles; `tests/layout.rs` checks it):
//! `hash → decode → rules → sigma → alert → state → windows → config → frame → diag → engine`.
#![forbid(unsafe_code)]

pub mod alert;
pub mod config;
pub mod decode;
pub mod diag;
pub mod engine;
pub mod frame;
pub mod hash;
pub mod rules;
pub mod sigma;
pub mod state;
pub mod windows;

// The synthetic replay generator (`jcdetect generate`, the benches and tests): not part of
// the data path, and not in the WASM builds.
#[cfg(feature = "generate")]
pub mod replay;

// The DI API source's decisions (`jcdetect pull`): the CLI does its I/O. Not in the WASM
// builds.
#[cfg(feature = "pull")]
pub mod pull;

pub use alert::Format;
pub use config::{Config, ConfigError};
pub use diag::{Code, Diagnostic, RawLine, Stats};
pub use engine::{Emit, Engine, Options};
