#!/bin/sh
# relay-compare.sh - the same push-and-sync load (bench/bench_relay.c) against
# the C relay (`evolu relay`) and the published TypeScript relay
# (tests/interop/ts-relay.mjs: @evolu/nodejs 3.0.0-next.3, @evolu/common
# 8.0.0-next.5 on Node 24), one after the other at the same concurrency, and
# prints both and their ratio: messages/s, p50/p99 push latency, peak RSS
# (VmHWM) and CPU seconds of each relay process. Numbers only, no assertions.
#
#   sh bench/relay-compare.sh [BUILD_DIR]      (default: build-bench, Release)
#
# Settings (environment): CLIENTS=500 OWNERS=100 K=8 PUSHES=10 SYNC_EVERY=4
# PAD=0 (extra bytes per change title), C_RELAY_FLAGS="" (more flags for
# `evolu relay`, e.g. "--synchronous normal"). The C relay runs as in
# production by default (synchronous=FULL, group commit). Node and the packages come from
# scripts/interop-setup.sh (cached). Every process is bounded by a timeout
# and stopped by its PID.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build-bench}
CLIENTS=${CLIENTS:-500}
OWNERS=${OWNERS:-100}
K=${K:-8}
PUSHES=${PUSHES:-10}
SYNC_EVERY=${SYNC_EVERY:-4}
PAD=${PAD:-0}
C_RELAY_FLAGS=${C_RELAY_FLAGS:-}

say() { echo "relay-compare: $*" >&2; }
die() {
  echo "relay-compare: ERROR: $*" >&2
  exit 1
}

if [ ! -x "$BUILD/bench_relay" ] || [ ! -x "$BUILD/evolu" ]; then
  say "building evolu and bench_relay in $BUILD (Release)"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DEVOLU_BENCH=ON >/dev/null
  cmake --build "$BUILD" -j2 --target evolu bench_relay >/dev/null
fi
sh "$ROOT/scripts/interop-setup.sh" >/dev/null 2>&1 ||
  die "scripts/interop-setup.sh could not set up Node 24 and the Evolu packages"
. "${EVOLU_INTEROP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/evolu-c-interop}/env.sh"
[ -x "$NODE" ] || die "no Node at $NODE"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/evolu-relay-compare.XXXXXX")
RELAY_PID=""
cleanup() {
  if [ -n "$RELAY_PID" ] && kill -0 "$RELAY_PID" 2>/dev/null; then
    kill -TERM "$RELAY_PID" 2>/dev/null || true
    sleep 1
    kill -KILL "$RELAY_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CMD...: a relay in the background (bounded to 600 s), its PID in
# RELAY_PID, its port in PORT once it printed its `listening on` line.
start() {
  name=$1
  shift
  timeout -k 5 600 "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  RELAY_PID=$!
  n=0
  PORT=""
  while [ $n -lt 300 ]; do
    PORT=$(sed -n 's/^listening on ws:\/\/127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$WORK/$name.out" | head -1)
    [ -n "$PORT" ] && break
    kill -0 "$RELAY_PID" 2>/dev/null || break
    sleep 0.1
    n=$((n + 1))
  done
  [ -n "$PORT" ] || {
    cat "$WORK/$name.err" >&2
    die "$name did not print its listening line"
  }
  # `timeout` is the parent; the relay is its only child.
  REAL_PID=$(pgrep -P "$RELAY_PID" | head -1)
  [ -n "$REAL_PID" ] || REAL_PID=$RELAY_PID
}

stop() {
  kill -TERM "$RELAY_PID" 2>/dev/null || true
  wait "$RELAY_PID" 2>/dev/null || true
  RELAY_PID=""
}

run() {
  name=$1
  timeout -k 5 300 "$BUILD/bench_relay" --port "$PORT" --pid "$REAL_PID" --label "$name" \
    --clients "$CLIENTS" --owners "$OWNERS" --k "$K" --pushes "$PUSHES" \
    --sync-every "$SYNC_EVERY" --pad "$PAD" --timeout 280 >"$WORK/$name.result" ||
    say "$name: the load reported errors (see above)"
  grep '^RESULT' "$WORK/$name.result" || die "$name: no result"
}

say "load: $CLIENTS clients, $OWNERS owners, $PUSHES pushes of $K changes each, sync every $SYNC_EVERY"
# shellcheck disable=SC2086 # C_RELAY_FLAGS is a list of flags
start c "$BUILD/evolu" relay --port 0 --db "$WORK/c.db" --log-level warn $C_RELAY_FLAGS
C_LINE=$(run c)
stop
start ts "$NODE" "$ROOT/tests/interop/ts-relay.mjs" --port 0 --dir "$WORK/ts" --log-level error
TS_LINE=$(run ts)
stop

field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
echo "$C_LINE"
echo "$TS_LINE"
printf '%-22s %14s %14s %10s\n' "" "C relay" "TS relay" "C/TS"
for f in msgs_per_s pushes_per_s p50_ms p99_ms relay_vmhwm_kb relay_cpu_s msgs_per_relay_cpu_s; do
  c=$(field "$C_LINE" $f)
  t=$(field "$TS_LINE" $f)
  r=$(awk -v c="$c" -v t="$t" 'BEGIN { if (t + 0 > 0) printf "%.2f", c / t; else print "-" }')
  printf '%-22s %14s %14s %10s\n' "$f" "$c" "$t" "$r"
done
c=$(field "$C_LINE" msgs_per_s)
t=$(field "$TS_LINE" msgs_per_s)
cc=$(field "$C_LINE" msgs_per_relay_cpu_s)
tc=$(field "$TS_LINE" msgs_per_relay_cpu_s)
cp=$(field "$C_LINE" p99_ms)
tp=$(field "$TS_LINE" p99_ms)
awk -v c="$c" -v t="$t" -v cc="$cc" -v tc="$tc" -v cp="$cp" -v tp="$tp" 'BEGIN {
  printf "target: throughput >= 10x the TypeScript relay: %.1fx wall-clock (%s), %.1fx per relay CPU second (%s)\n",
    c / t, (c >= 10 * t ? "met" : "NOT met"), cc / tc, (cc >= 10 * tc ? "met" : "NOT met")
  printf "target: p99 no worse: %s ms vs %s ms (%s)\n", cp, tp, (cp + 0 <= tp + 0 ? "met" : "NOT met") }'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs (wall-clock numbers need an otherwise idle machine)"
