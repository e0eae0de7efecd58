#!/bin/sh
# test_relay_kill9.sh BUILD_DIR EVOLU - kill -9 of `evolu relay` in the middle
# of a push load (4 owners, the load program in tests/unit/test_relay_crash.c),
# restart on the same database: every push answered with errorCode 0 is there.
# Every process is bounded in time and stopped by its own PID.
set -u
BUILD=$1
EVOLU=$2
LOAD=$BUILD/tests/test_relay_crash
TMP=$(mktemp -d /tmp/evolu_relay_crash.XXXXXX)
RELAY=""
DOG=""
cleanup() {
    [ -n "$RELAY" ] && kill -9 "$RELAY" 2>/dev/null
    [ -n "$DOG" ] && kill "$DOG" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
# watchdog SECONDS PID: kill -9 PID after SECONDS unless the watchdog is
# stopped first (kill "$DOG" also ends its sleep). Sets DOG.
watchdog() {
    ( sleep "$1" &
      sp=$!
      trap 'kill $sp 2>/dev/null; exit 0' TERM
      wait $sp
      kill -9 "$2" 2>/dev/null ) &
    DOG=$!
}
[ -x "$LOAD" ] || { echo "missing $LOAD" >&2; exit 1; }

start_relay() { # start_relay OUTFILE -> RELAY, PORT
    : >"$1"
    "$EVOLU" relay --port 0 --db "$TMP/relay.db" --log-level warn >"$1" 2>>"$TMP/err" &
    RELAY=$!
    [ -n "$DOG" ] && kill "$DOG" 2>/dev/null
    watchdog 90 "$RELAY"
    i=0
    while [ $i -lt 100 ] && ! grep -q . "$1"; do sleep 0.1; i=$((i + 1)); done
    PORT=$(sed -n 's/^listening on ws:\/\/127\.0\.0\.1:\([0-9]*\)$/\1/p' "$1")
    [ -n "$PORT" ] || { echo "relay did not start" >&2; cat "$TMP/err" >&2; exit 1; }
}

start_relay "$TMP/out1"
timeout 60 "$LOAD" --load "$PORT" "$TMP/acks" 10000 >"$TMP/load.out" 2>&1 &
LOADPID=$!
sleep 1
kill -9 "$RELAY"
wait "$RELAY" 2>/dev/null
RELAY=""
wait "$LOADPID"
cat "$TMP/load.out"
ACKS=$(wc -l <"$TMP/acks")
[ "$ACKS" -gt 0 ] || { echo "FAIL: no push was acknowledged before the kill" >&2; exit 1; }

start_relay "$TMP/out2"
timeout 60 "$LOAD" --verify "$PORT" "$TMP/acks"
rc=$?
kill -TERM "$RELAY"
wait "$RELAY"
trc=$?
RELAY=""
kill "$DOG" 2>/dev/null
DOG=""
[ $trc -eq 0 ] || { echo "FAIL: relay exit status $trc after SIGTERM" >&2; rc=1; }
echo "test_relay_kill9: $ACKS acknowledged pushes before kill -9, verify exit $rc"
exit $rc
