//! WebAssembly builds of [jcdetect](../README.md): the engine behind a C ABI for wasmtime
//! hosts and Fluent Bit's `wasm` filter (`ffi`, the default build), or behind a
//! wasm-bindgen `Detector` class for JS (feature `js`). The logic shared by the exports is
//! [`host::Host`], safe code tested natively; the exports exist only on wasm targets (a
//! native `malloc`/`free` would replace libc's).
//!
//! `unsafe` is confined to the pointer handling in `ffi`; the core stays
//! `#![forbid(unsafe_code)]`.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod host;
pub mod jsconfig;

#[cfg(all(target_family = "wasm", not(feature = "js")))]
mod ffi;

#[cfg(feature = "js")]
pub mod js;
