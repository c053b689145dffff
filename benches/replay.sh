#!/usr/bin/env bash
# benches/replay.sh — build the release binary and replay NDJSON through `jcdetect bench`,
# printing a Markdown table row for docs/performance.md.
#
# Usage:
#   benches/replay.sh [--row] FILE... [-- BENCH-OPTIONS...]
#
#   FILE...          NDJSON replay files (e.g. written by the replay generator)
#   --row            print only the row (append runs to an existing table); by default the
#                    header and separator come first
#   BENCH-OPTIONS    passed to `jcdetect bench`: --config FILE, --format ecs|ocsf, --repeat N
#
# Examples:
#   benches/replay.sh replay-1m.ndjson
#   benches/replay.sh --row replay-1m.ndjson -- --format ocsf --repeat 3
#
# Columns: input file(s), format, passes, events, input MB (10^6 bytes, all passes), wall
# seconds (feeding only: loading the files and building the engine are excluded), events/s,
# MB/s, alerts, peak RSS in MiB (VmHWM: includes the input, which is held in memory), time
# from process start to the first 1 MiB chunk processed (includes reading the input).
# Needs cargo and jq. The build is the release profile (fat LTO); it takes a few minutes the
# first time. Run on an otherwise idle machine for figures worth publishing.
set -euo pipefail
cd "$(dirname "$0")/.."

row_only=0
files=()
opts=()
while [ $# -gt 0 ]; do
    case "$1" in
        --row) row_only=1 ;;
        --) shift; opts=("$@"); break ;;
        -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) files+=("$1") ;;
    esac
    shift
done
if [ ${#files[@]} -eq 0 ]; then
    echo "usage: benches/replay.sh [--row] FILE... [-- BENCH-OPTIONS...]" >&2
    exit 2
fi
command -v jq >/dev/null || { echo "benches/replay.sh needs jq" >&2; exit 2; }

cargo build --release --quiet --bin jcdetect
json=$("${CARGO_TARGET_DIR:-target}/release/jcdetect" bench --json "${opts[@]}" "${files[@]}")

if [ "$row_only" = 0 ]; then
    echo "| input | format | passes | events | MB | wall s | events/s | MB/s | alerts | peak RSS MiB | first event ms |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
fi
jq -r '[
    (.files | map(split("/") | last) | join(" ")),
    .format,
    .repeat,
    .events,
    (.bytes / 1e6 | . * 10 | round / 10),
    (.wall_secs | . * 1000 | round / 1000),
    (.events_per_sec | round),
    (.mb_per_sec | . * 10 | round / 10),
    .alerts_total,
    (if .peak_rss_bytes == null then "n/a" else (.peak_rss_bytes / 1048576 | . * 10 | round / 10) end),
    (if .first_event_secs == null then "n/a" else (.first_event_secs * 1000 | . * 10 | round / 10) end)
  ] | "| " + (map(tostring) | join(" | ")) + " |"' <<<"$json"
