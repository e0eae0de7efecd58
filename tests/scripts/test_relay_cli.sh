#!/bin/sh
# test_relay_cli.sh BUILD_DIR EVOLU - `evolu relay` as a process: --help lists
# every flag, bad usage exits 2, --port 0 prints exactly one
# `listening on ws://127.0.0.1:PORT` line, SIGUSR1 prints a stats line,
# SIGTERM exits 0, a busy port exits 1. Every process is bounded in time and
# stopped by its own PID.
set -u
BUILD=$1
EVOLU=$2
TMP=$(mktemp -d /tmp/evolu_relay_cli.XXXXXX)
fails=0
checks=0
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
check() { # check DESCRIPTION COMMAND...
    desc=$1
    shift
    checks=$((checks + 1))
    if "$@"; then :; else
        fails=$((fails + 1))
        echo "FAIL: $desc" >&2
    fi
}

# --help: exit 0, every flag mentioned.
timeout 10 "$EVOLU" relay --help >"$TMP/help" 2>&1
check "--help exits 0" [ $? -eq 0 ]
for flag in --port --db --host --quota --allow --tls-cert --tls-key --log-level \
    --synchronous --max-connections --max-queue-bytes --max-queue-messages \
    --max-inflight-bytes --ping --help; do
    check "--help mentions $flag" grep -q -- "$flag" "$TMP/help"
done

# Bad usage: exit 2.
timeout 10 "$EVOLU" relay >/dev/null 2>&1
check "no arguments exit 2" [ $? -eq 2 ]
timeout 10 "$EVOLU" relay --port x --db "$TMP/a.db" >/dev/null 2>&1
check "bad port exits 2" [ $? -eq 2 ]
timeout 10 "$EVOLU" relay --port 0 --db "$TMP/a.db" --frobnicate 1 >/dev/null 2>&1
check "unknown flag exits 2" [ $? -eq 2 ]
timeout 10 "$EVOLU" relay --port 0 --db "$TMP/a.db" --allow notanowner >/dev/null 2>&1
check "bad --allow exits 2" [ $? -eq 2 ]
timeout 10 "$EVOLU" relay --port 0 --db "$TMP/a.db" --tls-cert x >/dev/null 2>&1
check "--tls-cert alone exits 2" [ $? -eq 2 ]

# Start with --port 0 and wait for the line.
: >"$TMP/out"
"$EVOLU" relay --port 0 --db "$TMP/r.db" >"$TMP/out" 2>"$TMP/err" &
RELAY=$!
watchdog 60 "$RELAY"
i=0
while [ $i -lt 100 ] && ! grep -q . "$TMP/out"; do sleep 0.1; i=$((i + 1)); done
check "prints one listening line" [ "$(wc -l <"$TMP/out")" -eq 1 ]
check "line format" grep -Eq '^listening on ws://127\.0\.0\.1:[0-9]+$' "$TMP/out"
PORT=$(sed -n 's/^listening on ws:\/\/127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/out")
check "real port" [ "${PORT:-0}" -gt 0 ]

# The port is taken: a second relay on it exits 1.
timeout 10 "$EVOLU" relay --port "$PORT" --db "$TMP/b.db" >/dev/null 2>&1
check "busy port exits 1" [ $? -eq 1 ]

# SIGUSR1: a stats line on stderr.
kill -USR1 "$RELAY"
i=0
while [ $i -lt 50 ] && ! grep -q "stats connections=" "$TMP/err"; do sleep 0.1; i=$((i + 1)); done
check "SIGUSR1 prints stats" grep -q "stats connections=0 .*messages_stored=0" "$TMP/err"

# SIGTERM: clean exit 0.
kill -TERM "$RELAY"
wait "$RELAY"
rc=$?
RELAY=""
check "SIGTERM exits 0" [ $rc -eq 0 ]
check "logs say stopped" grep -q " stopped$" "$TMP/err"
check "no error lines" sh -c "! grep -q ' error ' '$TMP/err'"
kill "$DOG" 2>/dev/null
DOG=""

echo "test_relay_cli: $checks checks, $fails failed"
[ $fails -eq 0 ]
