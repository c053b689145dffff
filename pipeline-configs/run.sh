#!/usr/bin/env bash
# /usr/local/lib/jcdetect/run.sh — start one jcdetect pattern, and stop it without losing events.
#
# What it does: runs the pattern PATTERN with the configs in /etc/jcdetect:
#   fluent-bit-wasm   fluent-bit -c fluent-bit-wasm.yaml             (jcdetect inside Fluent Bit)
#   vector-exec       vector --config vector-exec.yaml               (Vector runs jcdetect --follow)
#   vector-sandwich   vector --config vector-sandwich.yaml           (Vector <-> jcdetect --listen)
#   vector-pull       vector --config vector-pull.yaml               (Vector runs jcdetect pull: API events)
#   vector-pull-detect vector --config vector-pull-detect.yaml       (Vector runs jcdetect --pull: alerts)
#   fluent-bit-pull   fluent-bit -c fluent-bit-pull.conf             (Fluent Bit runs jcdetect pull each minute)
#   fluent-bit-pipe   fluent-bit collect | jcdetect | fluent-bit ship
#   vector-pipe       vector collect | jcdetect | vector ship
# The two pipes keep jcdetect's windows in /var/lib/jcdetect/PATTERN.state and put the lines
# it does not evaluate in /var/log/jcdetect/PATTERN-rejected.ndjson. They are stopped in order: on
# SIGTERM, SIGINT or SIGHUP only the collect stage is told to stop; it flushes what it read
# and closes the pipe, jcdetect processes all of it, saves its state and exits, and the ship
# stage sends the last alerts and exits. Every stage runs in a session of its own, so a
# Ctrl-C in the terminal reaches this script alone, not all three at once (which let the
# collect stage checkpoint events jcdetect never saw). Kill it with SIGKILL, or kill a stage
# on its own, and that guarantee is gone: if jcdetect or the ship stage ends first, this
# script says so, stops the rest and exits 1 (so a service manager restarts it).
# For systemd use jcdetect@.service (KillMode=mixed sends SIGTERM to this script only).
#
# How to run it:
#   /usr/local/lib/jcdetect/run.sh PATTERN [JCDETECT OPTIONS...]     (after install.sh)
#   e.g. run.sh vector-pipe --format ocsf
# Environment: JCDETECT_ETC (/etc/jcdetect), JCDETECT_VAR (/var/lib/jcdetect), JCDETECT_LOG
# (/var/log/jcdetect), JCDETECT (/usr/local/bin/jcdetect), FLUENT_BIT (fluent-bit),
# VECTOR (vector); install.sh --prefix writes its own defaults in.
set -uo pipefail

ETC=${JCDETECT_ETC:-/etc/jcdetect}
VAR=${JCDETECT_VAR:-/var/lib/jcdetect}
LOG=${JCDETECT_LOG:-/var/log/jcdetect}
JCDETECT=${JCDETECT:-/usr/local/bin/jcdetect}
FLUENT_BIT=${FLUENT_BIT:-fluent-bit}
VECTOR=${VECTOR:-vector}

say() { echo "run.sh: $*" >&2; }
[ $# -ge 1 ] || { sed -n '2,29p' "$0" >&2; exit 2; }
pattern=$1
shift

case $pattern in
    fluent-bit-wasm) exec "$FLUENT_BIT" -c "$ETC/fluent-bit-wasm.yaml" ;;
    vector-exec) exec "$VECTOR" --config "$ETC/vector-exec.yaml" ;;
    vector-sandwich) exec "$VECTOR" --config "$ETC/vector-sandwich.yaml" ;;
    vector-pull) exec "$VECTOR" --config "$ETC/vector-pull.yaml" ;;
    vector-pull-detect) exec "$VECTOR" --config "$ETC/vector-pull-detect.yaml" ;;
    fluent-bit-pull) exec "$FLUENT_BIT" -c "$ETC/fluent-bit-pull.conf" ;;
    fluent-bit-pipe)
        collect=("$FLUENT_BIT" -c "$ETC/fluent-bit-collect.conf")
        ship=("$FLUENT_BIT" -c "$ETC/fluent-bit-ship.conf") ;;
    vector-pipe)
        collect=("$VECTOR" --config "$ETC/vector-pipe.yaml")
        ship=("$VECTOR" --config "$ETC/vector-pipe-ship.yaml") ;;
    *) say "unknown pattern '$pattern' (fluent-bit-wasm, fluent-bit-pipe, vector-exec, vector-sandwich, vector-pipe, vector-pull, vector-pull-detect, fluent-bit-pull)"; exit 2 ;;
esac

fifos=$(mktemp -d "${TMPDIR:-/tmp}/jcdetect-pipe.XXXXXX") || exit 1
trap 'rm -rf "$fifos"' EXIT
mkfifo "$fifos/events" "$fifos/alerts" || exit 1

collect_pid="" jcdetect_pid="" ship_pid="" stopping=0
stop() {
    if [ $stopping = 0 ]; then
        say "stopping: the collect stage first, then jcdetect and the ship stage drain"
        [ -z "$collect_pid" ] || kill -TERM "$collect_pid" 2>/dev/null
    else
        say "asked again: stopping every stage now"
        kill -TERM $collect_pid $jcdetect_pid $ship_pid 2>/dev/null
    fi
    stopping=1
}
# Before the stages start, so that a stop during start-up is not lost (it is carried out as
# soon as the collect stage exists).
trap stop TERM INT HUP

# setsid: a session of its own, out of reach of the terminal's Ctrl-C (see above).
setsid "${collect[@]}" >"$fifos/events" &
collect_pid=$!
setsid "$JCDETECT" --config "$ETC/jcdetect.toml" --state "$VAR/$pattern.state" \
    --errors "$LOG/$pattern-rejected.ndjson" "$@" <"$fifos/events" >"$fifos/alerts" &
jcdetect_pid=$!
setsid "${ship[@]}" <"$fifos/alerts" &
ship_pid=$!
[ $stopping = 0 ] || kill -TERM "$collect_pid" 2>/dev/null

alive() { kill -0 "$1" 2>/dev/null; }

# Wait for one process to end (a trapped signal interrupts `wait`, so wait again).
await() {
    local rc
    while :; do
        wait "$1"
        rc=$?
        alive "$1" || return $rc
    done
}

# The collect stage must end first; jcdetect or the ship stage ending before it is a failure.
# Polled (bash reaps a stage as it ends): `wait -n -p` would need bash 5.1.
while alive "$collect_pid" && alive "$jcdetect_pid" && alive "$ship_pid"; do
    sleep 0.2 &
    wait $! 2>/dev/null
done
status=0
if ! alive "$collect_pid"; then
    await "$collect_pid"
    rc=$?
    [ $rc = 0 ] || [ $stopping = 1 ] || { say "the collect stage failed (status $rc)"; status=1; }
    await "$jcdetect_pid" || { say "jcdetect failed (status $?)"; status=1; }
    await "$ship_pid" || { say "the ship stage failed (status $?)"; status=1; }
else
    which=jcdetect dead=$jcdetect_pid
    alive "$jcdetect_pid" && which="the ship stage" dead=$ship_pid
    await "$dead"
    rc=$?
    say "$which ended (status $rc) before the collect stage: stopping the others. Events the collect" \
        "stage read after that were not detected; restart to resume from its checkpoint" \
        "(events in flight may be missed: prefer vector-exec where that matters)"
    kill -TERM "$collect_pid" "$jcdetect_pid" "$ship_pid" 2>/dev/null
    await "$collect_pid"
    await "$jcdetect_pid"
    await "$ship_pid"
    status=1
fi
exit $status
