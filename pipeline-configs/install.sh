#!/usr/bin/env bash
# pipeline-configs/install.sh — put jcdetect and its pipeline configs where they run from.
#
# What it does: installs the layout every config here names (absolute paths, as a service
# needs), creating the directories Fluent Bit and Vector refuse to start without:
#   /usr/local/bin/jcdetect                          the CLI (target/release/jcdetect)
#   /usr/local/lib/jcdetect/jcdetect-fluentbit.wasm   the Fluent Bit module (if built)
#   /usr/local/lib/jcdetect/jcdetect-fluentbit.aot    with --wamrc: the module compiled ahead of time
#   /usr/local/lib/jcdetect/run.sh                    starts a pattern, stops pipes in order
#   /etc/jcdetect/                                    jcdetect.toml and the Fluent Bit / Vector configs
#   /etc/systemd/system/jcdetect@.service             one unit for every pattern
#   /etc/systemd/system/jcdetect-pull.service         jcdetect alone on the DI API
#   /var/lib/jcdetect/                                state files, API cursors, checkpoints, tail db, Vector data_dir
#   /var/log/jcdetect/                                dead letters (lines not evaluated), jcdetect-pull's alerts
# Existing files in /etc/jcdetect are kept (the new one is written beside them as .new).
# The DI API key is yours to put in /etc/jcdetect/api-key (mode 0600) for the pull configs
# (vector-pull.yaml, vector-pull-detect.yaml, fluent-bit-pull.conf, jcdetect-pull.service);
# install.sh never writes it:  sudo sh -c 'umask 077; cat > /etc/jcdetect/api-key'
#
# How to run it, from anywhere (after `cargo build --release` and `wasm/build.sh`):
#   sudo pipeline-configs/install.sh
#   pipeline-configs/install.sh --prefix /tmp/jc     # a trial install under /tmp/jc: every
#                                                    # path in the installed files points there
# Options:
#   --prefix DIR     install under DIR (default: /); the installed configs name DIR's paths
#   --di-log FILE    the DI log the configs read (default /var/log/jumpcloud/di.ndjson)
#   --wamrc FILE     compile the module with Fluent Bit's flb-wamrc (cmake -DFLB_WAMRC=On, from
#                    the same Fluent Bit source as the fluent-bit that loads it: an AOT file
#                    only loads in the WAMR version that made it) and point the configs at it
#   --bin FILE       the jcdetect binary (default: target/release/jcdetect)
#   --wasm FILE      the Fluent Bit module (default: wasm/target/fluentbit/wasm32-wasip1/release/jcdetect_wasm.wasm)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
prefix="" di_log="" wamrc=""
bin="$repo/target/release/jcdetect"
wasm="$repo/wasm/target/fluentbit/wasm32-wasip1/release/jcdetect_wasm.wasm"
while [ $# -gt 0 ]; do
    case $1 in
        --prefix) prefix=${2%/}; shift 2 ;;
        --di-log) di_log=$2; shift 2 ;;
        --wamrc) wamrc=$2; shift 2 ;;
        --bin) bin=$2; shift 2 ;;
        --wasm) wasm=$2; shift 2 ;;
        -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [ -n "$prefix" ]; then
    mkdir -p "$prefix"
    prefix=$(cd "$prefix" && pwd)
fi
[ -z "$di_log" ] || di_log=$(realpath -m "$di_log")
[ -x "$bin" ] || { echo "install.sh: no jcdetect binary at $bin: run cargo build --release (or --bin)" >&2; exit 1; }

BIN=$prefix/usr/local/bin LIB=$prefix/usr/local/lib/jcdetect ETC=$prefix/etc/jcdetect
VAR=$prefix/var/lib/jcdetect LOG=$prefix/var/log/jcdetect UNITS=$prefix/etc/systemd/system
mkdir -p "$BIN" "$LIB" "$ETC" "$VAR" "$LOG" "$UNITS" "$VAR/vector-collect" "$VAR/vector-sandwich"

# The installed text names the installed paths: the documented ones, moved under --prefix.
# Two steps (layout path -> token -> installed path), so a prefix that itself contains a
# layout path is not moved twice; `#`, `&` and `\` in a path are escaped for sed.
esc() { printf '%s' "$1" | sed 's/[#&\\]/\\&/g'; }
relocate() {
    local s=(-e 's#/usr/local/bin/jcdetect#@JCBIN@/jcdetect#g' -e 's#/usr/local/lib/jcdetect#@JCLIB@#g'
        -e 's#/etc/jcdetect#@JCETC@#g' -e 's#/var/lib/jcdetect#@JCVAR@#g' -e 's#/var/log/jcdetect#@JCLOG@#g')
    [ -n "$di_log" ] && s+=(-e "s#/var/log/jumpcloud/di.ndjson#@JCDI@#g")
    [ -n "$wamrc" ] && s+=(-e "s#jcdetect-fluentbit.wasm#jcdetect-fluentbit.aot#g")
    s+=(-e "s#@JCBIN@#$(esc "$BIN")#g" -e "s#@JCLIB@#$(esc "$LIB")#g" -e "s#@JCETC@#$(esc "$ETC")#g"
        -e "s#@JCVAR@#$(esc "$VAR")#g" -e "s#@JCLOG@#$(esc "$LOG")#g" -e "s#@JCDI@#$(esc "$di_log")#g")
    sed "${s[@]}" "$1"
}
put() { # put SRC DEST [MODE]: relocated copy; an existing config is kept, the new one is .new
    local dest=$2
    if [ -e "$dest" ] && [[ $dest == "$ETC"/* ]] && ! relocate "$1" | cmp -s - "$dest"; then
        dest="$dest.new"
        echo "install.sh: kept your $2; the new one is $dest" >&2
    fi
    relocate "$1" >"$dest.tmp" && chmod "${3:-644}" "$dest.tmp" && mv "$dest.tmp" "$dest"
}

install -m 755 "$bin" "$BIN/jcdetect.tmp" && mv "$BIN/jcdetect.tmp" "$BIN/jcdetect"
put "$here/run.sh" "$LIB/run.sh" 755
for f in jcdetect.toml fluent-bit-wasm.yaml fluent-bit-wasm.conf fluent-bit-parsers.conf \
    fluent-bit-collect.conf fluent-bit-ship.conf fluent-bit-pull.conf vector-pipe.yaml \
    vector-pipe-ship.yaml vector-exec.yaml vector-sandwich.yaml vector-pull.yaml \
    vector-pull-detect.yaml; do
    put "$here/$f" "$ETC/$f"
done
for f in jcdetect@.service jcdetect-pull.service; do
    put "$here/$f" "$UNITS/$f"
done
if [ -f "$wasm" ]; then
    install -m 644 "$wasm" "$LIB/jcdetect-fluentbit.wasm"
    if [ -n "$wamrc" ]; then
        "$wamrc" --target="$(uname -m)" --opt-level=3 -o "$LIB/jcdetect-fluentbit.aot" "$wasm"
    fi
else
    echo "install.sh: no Fluent Bit module at $wasm (wasm/build.sh builds it): the wasm filter configs will not load" >&2
    [ -z "$wamrc" ] || exit 1
fi
[ -e "$ETC/api-key" ] || echo "install.sh: no DI API key at $ETC/api-key (the pull configs read it): sudo sh -c 'umask 077; cat > $ETC/api-key'" >&2
echo "installed under ${prefix:-/}: $BIN/jcdetect, $LIB, $ETC, $VAR, $LOG, $UNITS/jcdetect@.service, $UNITS/jcdetect-pull.service" >&2
