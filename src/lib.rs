//! jcdetect: a stateful detection transform for JumpCloud Directory Insights events.
//!
//! The core is pure: bytes in, alerts out, time taken from the events. The CLI
//! (`src/main.rs`), the WASM modules (`wasm/`) and the benches are thin shells around
//! [`Engine`].
#![forbid(unsafe_code)]

pub mod alert;
pub mod catalog;
pub mod config;
pub mod diag;
pub mod engine;
pub mod event;
pub mod hash;
pub mod json;
pub mod persist;
mod recent;
pub mod replay;
pub mod rules;
pub mod scan;
pub mod time;
pub mod watermark;
pub mod window;

pub use alert::Format;
pub use config::{Config, ConfigError};
pub use diag::{Code, Diagnostic, RawLine, Stats};
pub use engine::{Emit, Engine, Options};
