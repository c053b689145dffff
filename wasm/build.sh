#!/usr/bin/env bash
# Build every WASM artifact of jcdetect (see wasm/README.md):
#
#   target/wasm32-wasip1/release/jcdetect_wasm.wasm           core module, WASI (wasmtime), +simd128
#   target/wasm32-unknown-unknown/release/jcdetect_wasm.wasm  core module, no imports, +simd128
#   target/fluentbit/wasm32-wasip1/release/jcdetect_wasm.wasm core module for Fluent Bit: WASI,
#                                                             no SIMD (Fluent Bit's WAMR has none)
#   pkg/                                                      wasm-bindgen package for JS (Node)
#
# Usage: wasm/build.sh [--no-js]     (from any directory)
#   JCDETECT_JS_TARGET=nodejs|web|bundler   wasm-bindgen --target (default nodejs)
#
# Installs nothing. Needs: cargo, the rustup targets wasm32-wasip1 and wasm32-unknown-unknown,
# and (for pkg/) wasm-bindgen-cli of exactly the wasm-bindgen version in wasm/Cargo.lock. It
# checks them first and says what is missing and how to get it.
set -euo pipefail

cd "$(dirname "$0")"   # so that wasm/.cargo/config.toml (+simd128) applies
js=1
for a in "$@"; do
    case "$a" in
        --no-js) js=0 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument $a" >&2; exit 2 ;;
    esac
done

missing=()
command -v cargo >/dev/null || missing+=("cargo (https://rustup.rs)")
if command -v rustup >/dev/null; then
    installed=$(rustup target list --installed)
    for t in wasm32-wasip1 wasm32-unknown-unknown; do
        grep -qx "$t" <<<"$installed" || missing+=("rust target $t: rustup target add $t")
    done
else
    echo "build.sh: no rustup; assuming the wasm32 targets are installed" >&2
fi
if [ "$js" = 1 ]; then
    want=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/[^0-9.]/, ""); print; exit}' Cargo.lock)
    have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
    if [ -z "$have" ]; then
        missing+=("wasm-bindgen-cli $want: cargo install wasm-bindgen-cli --version $want")
    elif [ "$have" != "$want" ]; then
        missing+=("wasm-bindgen-cli $want (found $have): cargo install wasm-bindgen-cli --version $want --force")
    fi
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "build.sh: missing:" >&2
    printf '  - %s\n' "${missing[@]}" >&2
    exit 1
fi

build() { echo "== $*" >&2; cargo build --release --locked "$@"; }

# The JS build shares the unknown-unknown target dir (same dependency features, so they are
# compiled once); it goes first because the core build below overwrites the uplifted file.
if [ "$js" = 1 ]; then
    build --target wasm32-unknown-unknown --features js
    rm -rf pkg
    wasm-bindgen --target "${JCDETECT_JS_TARGET:-nodejs}" --out-dir pkg \
        target/wasm32-unknown-unknown/release/jcdetect_wasm.wasm
fi
build --target wasm32-unknown-unknown
build --target wasm32-wasip1
# RUSTFLAGS replaces the config's +simd128: WAMR, as Fluent Bit builds it
# (WAMR_BUILD_SIMD 0), rejects any module with SIMD instructions at load.
RUSTFLAGS="-C target-feature=-simd128" build --target wasm32-wasip1 --target-dir target/fluentbit

echo "== artifacts (bytes)" >&2
ls -l target/wasm32-wasip1/release/jcdetect_wasm.wasm \
    target/wasm32-unknown-unknown/release/jcdetect_wasm.wasm \
    target/fluentbit/wasm32-wasip1/release/jcdetect_wasm.wasm \
    $( [ "$js" = 1 ] && echo pkg/jcdetect_wasm_bg.wasm ) | awk '{printf "%10d  %s\n", $5, $9}'
