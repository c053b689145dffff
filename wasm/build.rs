//! Fluent Bit allocates its inputs with the module's `malloc`/`free` when it exports them.
//! On wasm32-wasip1 the Rust allocator already is wasi-libc's malloc, so the module exports
//! libc's own functions (a second `malloc` symbol would clash with libc's); on
//! wasm32-unknown-unknown `src/ffi.rs` defines them.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let js = std::env::var_os("CARGO_FEATURE_JS").is_some();
    if os == "wasi" && !js {
        println!("cargo:rustc-cdylib-link-arg=--export=malloc");
        println!("cargo:rustc-cdylib-link-arg=--export=free");
    }
}
