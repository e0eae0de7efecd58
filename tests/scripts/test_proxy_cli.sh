#!/bin/sh
# test_proxy_cli.sh - the `evolu proxy` command's contract (docs/proxy.md):
# --help, usage errors (exit 2), start-up failures (exit 1), the first stdout
# line `device on tcp:127.0.0.1:PORT` with port 0, the queue and store
# directories it creates, and SIGTERM (exit 0). The forwarding itself is
# tests/unit/test_proxy.c and tests/scripts/test_e2e_device.sh. Every process
# is bounded and stopped by its own PID; loopback only.
# usage: sh test_proxy_cli.sh BUILD_DIR PATH_TO_evolu
set -u
E=${2:?usage: test_proxy_cli.sh BUILD_DIR PATH_TO_evolu}
T=$(mktemp -d "${TMPDIR:-/tmp}/evolu-proxy-cli-XXXXXX")
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
checks=0; fails=0
check() { what=$1; shift; checks=$((checks + 1)); if "$@"; then :; else fails=$((fails + 1)); echo "FAIL: $what" >&2; fi; }
rc() { "$@" >"$T/o" 2>"$T/e"; echo $?; }

check "--help exits 0" [ "$(rc "$E" proxy --help)" = 0 ]
check "--help names the flags" grep -q -- '--device.*tcp-listen' "$T/o"
check "evolu --help lists proxy" sh -c "'$E' --help | grep -q '^  proxy '"
check "no flags: 2" [ "$(rc "$E" proxy)" = 2 ]
check "missing --store: 2" [ "$(rc "$E" proxy --device tcp-listen:127.0.0.1:0 --relay ws://127.0.0.1:9)" = 2 ]
check "says what is required" grep -q 'required' "$T/e"
check "bad relay URL: 2" [ "$(rc "$E" proxy --device tcp-listen:127.0.0.1:0 --relay http://x --store "$T/s")" = 2 ]
check "bad device spec: 2" [ "$(rc "$E" proxy --device tcp-listen:localhost --relay ws://127.0.0.1:9 --store "$T/s")" = 2 ]
check "unknown flag: 2" [ "$(rc "$E" proxy --frobnicate 1)" = 2 ]
check "zero queue limit: 2" [ "$(rc "$E" proxy --device tcp-listen:127.0.0.1:0 --relay ws://127.0.0.1:9 --store "$T/s" --queue-max-messages 0)" = 2 ]
check "missing serial device: 1" [ "$(rc "$E" proxy --device "$T/no-such-tty" --relay ws://127.0.0.1:9 --store "$T/s")" = 1 ]
: >"$T/file"
check "store that is a file: 1" [ "$(rc "$E" proxy --device tcp-listen:127.0.0.1:0 --relay ws://127.0.0.1:9 --store "$T/file")" = 1 ]

# a running proxy (the relay is unreachable: it keeps retrying)
"$E" proxy --device tcp-listen:127.0.0.1:0 --relay ws://127.0.0.1:9/x --store "$T/store" \
    --log-level debug >"$T/run.out" 2>"$T/run.err" &
PID=$!
n=0; while ! grep -q '^device on ' "$T/run.out" && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
check "first line: device on tcp:127.0.0.1:PORT" grep -qx 'device on tcp:127\.0\.0\.1:[1-9][0-9]*' "$T/run.out"
PORT=$(sed -n 's/^device on tcp:127.0.0.1://p' "$T/run.out")
check "exactly one stdout line" [ "$(wc -l <"$T/run.out")" = 1 ]
check "store and queue created" test -d "$T/store/blobs" -a -d "$T/store/queue"
check "port in use: 1" [ "$(rc "$E" proxy --device "tcp-listen:127.0.0.1:$PORT" --relay ws://127.0.0.1:9 --store "$T/s2")" = 1 ]
# garbage from a "device" is survived
if command -v python3 >/dev/null 2>&1; then
    timeout 10 python3 -c "import socket,os; s=socket.create_connection(('127.0.0.1',$PORT)); s.sendall(os.urandom(5000)+bytes(10)); s.close()" ||
        check "garbage sent" false
fi
sleep 0.3
check "still running after garbage" kill -0 "$PID"
check "logs are levelled lines on stderr" grep -q 'Z info  waiting for the device on tcp:127.0.0.1:' "$T/run.err"
kill -TERM "$PID"; wait "$PID"; st=$?; PID=
check "SIGTERM: exit 0 (got $st)" [ "$st" = 0 ]
check "says it stops" grep -q 'stopping; 0 messages stay queued' "$T/run.err"
echo "proxy cli: $checks checked, $fails failed"
[ "$fails" = 0 ]
