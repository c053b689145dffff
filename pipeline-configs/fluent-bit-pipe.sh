#!/usr/bin/env bash
# pipeline-configs/fluent-bit-pipe.sh — Fluent Bit | jcdetect | Fluent Bit.
#
# What it does: runs the pipe pattern for any Fluent Bit version (no wasm needed):
#   fluent-bit -c pipeline-configs/fluent-bit-collect.conf | jcdetect | fluent-bit -c pipeline-configs/fluent-bit-ship.conf
# collect tails the DI log and prints plain NDJSON events; jcdetect turns them into alerts,
# flushing whenever its input is idle; ship reads the alerts from stdin and sends them on.
#
# How to run it (any directory; it works from the repository root):
#   pipeline-configs/fluent-bit-pipe.sh [JCDETECT OPTIONS...]
#   e.g. pipeline-configs/fluent-bit-pipe.sh --config pipeline-configs/jcdetect.toml --format ocsf
# FLUENT_BIT and JCDETECT name the programs (default: `fluent-bit` and `jcdetect` on PATH;
# `cargo install --path .` installs jcdetect). jcdetect's diagnostics go to stderr.
# Stop it with Ctrl-C (the whole pipe stops); `set -o pipefail` reports a failing stage.
set -euo pipefail
cd "$(dirname "$0")/.."
FLUENT_BIT=${FLUENT_BIT:-fluent-bit}
JCDETECT=${JCDETECT:-jcdetect}
"$FLUENT_BIT" -c pipeline-configs/fluent-bit-collect.conf |
    "$JCDETECT" "$@" |
    "$FLUENT_BIT" -c pipeline-configs/fluent-bit-ship.conf
