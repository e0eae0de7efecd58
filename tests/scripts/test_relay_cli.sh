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

# start_other OUTFILE ARGS...: a relay with extra flags; sets RELAY and PORT2.
start_other() {
    out=$1
    shift
    : >"$out"
    "$EVOLU" relay --port 0 --db "$TMP/o.db" "$@" >"$out" 2>>"$TMP/err2" &
    RELAY=$!
    watchdog 60 "$RELAY"
    i=0
    while [ $i -lt 100 ] && ! grep -q . "$out"; do sleep 0.1; i=$((i + 1)); done
    PORT2=$(sed -n 's/^listening on wss*:\/\/[^:]*:\([0-9]*\)$/\1/p' "$out")
}
stop_other() {
    kill -TERM "$RELAY"
    wait "$RELAY"
    rc=$?
    RELAY=""
    kill "$DOG" 2>/dev/null
    DOG=""
    return $rc
}

# --host: another loopback address is listened on and printed.
start_other "$TMP/out3" --host 127.0.0.2
check "--host in the line" grep -Eq '^listening on ws://127\.0\.0\.2:[0-9]+$' "$TMP/out3"
stop_other
check "--host relay exits 0" [ $? -eq 0 ]

# TLS (when openssl is here to make a certificate): wss:// and a 101 over TLS.
if command -v openssl >/dev/null 2>&1 &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
        -days 1 -subj /CN=127.0.0.1 >/dev/null 2>&1; then
    start_other "$TMP/out4" --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem"
    check "wss in the line" grep -Eq '^listening on wss://127\.0\.0\.1:[0-9]+$' "$TMP/out4"
    ( printf 'GET /?ownerId=x HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
      sleep 1 ) | timeout 10 openssl s_client -connect "127.0.0.1:$PORT2" -quiet \
        >"$TMP/tls" 2>/dev/null
    check "upgrade over TLS" grep -q "101" "$TMP/tls"
    stop_other
    check "TLS relay exits 0" [ $? -eq 0 ]
    timeout 10 "$EVOLU" relay --port 0 --db "$TMP/o.db" --tls-cert "$TMP/nope.pem" \
        --tls-key "$TMP/key.pem" >/dev/null 2>&1
    check "missing certificate exits 1" [ $? -eq 1 ]
else
    echo "test_relay_cli: TLS checks skipped (no openssl to make a certificate)"
fi

echo "test_relay_cli: $checks checks, $fails failed"
[ $fails -eq 0 ]
