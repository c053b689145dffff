//! The wasm-bindgen `Detector` (feature `js`).
