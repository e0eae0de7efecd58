#!/bin/sh
# test_e2e_device.sh - issue 7, item 4: the device end to end.
#
#   firmware in QEMU (mps2-an505, UART0 over TCP)  <->  evolu proxy  <->  a relay
#   <->  a published TypeScript Evolu app (8.11.0, headless in Node) and a C client
#
#   1. the device boots, provisions its owner from the keys `evolu owner show
#      --device` derives from the mnemonic, and writes a reading every tick;
#      the TypeScript app, restored from the mnemonic itself, sees the
#      device's readings (so the keys are that owner's);
#   2. a row the app inserts reaches the device's table;
#   3. the relay is stopped: the device keeps writing, the proxy takes its
#      pushes into its queue on disk; the proxy is then killed with SIGKILL
#      and restarted on the same port (QEMU reconnects), with the queue intact,
#      and the device keeps writing through the new proxy;
#   4. the relay is restarted on the same port (and database): the queue is
#      forwarded, the device syncs, and afterwards the app, a C client and the
#      device hold identical `reading` tables.
#
# The relay is `evolu relay` (default) or, with a third argument `ts`, the
# published TypeScript relay (tests/interop/ts-relay.mjs);
# test_e2e_device_ts_relay.sh runs that variant. Needs QEMU and the cross
# toolchain (scripts/device-deps.sh) and Node with the Evolu packages
# (scripts/interop-setup.sh, cached); missing tools are a failure. The app is
# tests/interop/ts-app.mjs, whose schema has the device's `reading(value,
# note)` table. Every process is bounded in time and stopped by
# its own PID; everything listens on 127.0.0.1.
# usage: sh test_e2e_device.sh BUILD_DIR PATH_TO_evolu [c|ts]
set -u
B=${1:?usage: test_e2e_device.sh BUILD_DIR PATH_TO_evolu [c|ts]}
E=${2:?usage: test_e2e_device.sh BUILD_DIR PATH_TO_evolu [c|ts]}
KIND=${3:-c}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
case $E in /*) ;; *) E=$(pwd)/$E ;; esac
T=$(mktemp -d "${TMPDIR:-/tmp}/evolu-e2e-XXXXXX")
QEMU_PID=; RELAY_PID=; PROXY_PID=; DOGS=
cleanup() {
    for p in $QEMU_PID $PROXY_PID $RELAY_PID $DOGS; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
. "$ROOT/firmware/test/fw_test_lib.sh"   # check/ok/bad, M, wait_pid, last_table
fw_owner_keys                            # K: owner_keys=<hex> of M
die() { echo "FAIL: $*" >&2; exit 1; }
t0=$(date +%s)
say() { echo "[e2e-$KIND +$(($(date +%s) - t0))s] $*" >&2; }

for tool in qemu-system-arm arm-none-eabi-gcc flock; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (run scripts/device-deps.sh)"
done

# --- the firmware (cross build, shared with test_firmware.sh; one at a time)
SRC=$ROOT/build/device-src
[ -d "$SRC/libsodium" ] || die "libsodium sources missing in $SRC (run scripts/device-deps.sh)"
D=$B/fw-device
mkdir -p "$B"
flock "$B/fw-device.lock" sh -c 'cmake -S "$1/device" -B "$2" -DCMAKE_TOOLCHAIN_FILE="$1/cmake/arm-none-eabi.cmake" \
    -DEVOLU_DEVICE_SRC="$3" && cmake --build "$2" -j2 --target evolu_firmware' \
    sh "$ROOT" "$D" "$SRC" >"$T/cross.log" 2>&1 ||
    { tail -30 "$T/cross.log" >&2; die "cross build of the firmware"; }
ELF=$D/evolu_firmware.elf

# --- Node 24 and the published packages; the app with a `reading` table
sh "$ROOT/scripts/interop-setup.sh" >"$T/setup.log" 2>&1 ||
    { tail -30 "$T/setup.log" >&2; die "scripts/interop-setup.sh failed"; }
. "${EVOLU_INTEROP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/evolu-c-interop}/env.sh"
[ -x "$NODE" ] || die "no Node at $NODE"
ts() { # ARGS...: the 8.11.0 app of the device's owner, bounded
    timeout -k 5 120 "$NODE" "$ROOT/tests/interop/ts-app.mjs" --version v11 --db "$T/app" --mnemonic "$M" \
        --relay "$URL" --timeout 100 "$@"
}
# the app's rows as the device reports them: id, value, note of live rows
app_rows() {
    ts "$@" rows reading 2>>"$T/app.err" | grep -v '"isDeleted":1}$' |
        sed 's/,"isDeleted":[^,}]*}$/}/'
}

# --- processes
count() { c=$(grep -c -- "$2" "$1" 2>/dev/null); echo "${c:-0}"; } # FILE PATTERN
wait_for() { # FILE PATTERN COUNT SECONDS (the file may not exist yet)
    n=0
    while [ "$(count "$1" "$2")" -lt "$3" ] && [ $n -lt $(($4 * 5)) ]; do
        sleep 0.2; n=$((n + 1)); done
    [ "$(count "$1" "$2")" -ge "$3" ]
}
# watchdog PID SECONDS: SIGTERM to PID (a process we started) after SECONDS,
# so nothing outlives the test; processes run without `timeout` in between so
# that their PID is theirs (kill -9 of the proxy must hit the proxy)
watchdog() {
    ( exec >/dev/null 2>&1
      trap 'kill "$sp" 2>/dev/null; exit 0' TERM
      sleep "$2" & sp=$!
      wait "$sp"
      kill "$1" 2>/dev/null ) &
    DOGS="$DOGS $!"
}
start_relay() { # PORT: sets RELAY_PID and URL
    : >"$T/relay.out"
    if [ "$KIND" = ts ]; then
        mkdir -p "$T/tsrelay"
        "$NODE" "$ROOT/tests/interop/ts-relay.mjs" --port "$1" --dir "$T/tsrelay" \
            >"$T/relay.out" 2>>"$T/relay.err" &
    else
        "$E" relay --port "$1" --db "$T/relay.db" --log-level warn \
            >"$T/relay.out" 2>>"$T/relay.err" &
    fi
    RELAY_PID=$!
    watchdog "$RELAY_PID" 600
    wait_for "$T/relay.out" '^listening on ' 1 20 || die "relay did not start: $(tail -5 "$T/relay.err")"
    URL=$(sed -n 's/^listening on //p' "$T/relay.out")
}
stop_relay() { kill "$RELAY_PID" 2>/dev/null; wait "$RELAY_PID" 2>/dev/null; RELAY_PID=; }
start_proxy() { # NAME PORT: sets PROXY_PID and PPORT
    : >"$T/$1.out"
    "$E" proxy --device "tcp-listen:127.0.0.1:$2" --relay "$URL" --store "$T/pstore" \
        --reconnect-max-ms 1000 --log-level debug >"$T/$1.out" 2>"$T/$1.err" &
    PROXY_PID=$!
    watchdog "$PROXY_PID" 600
    wait_for "$T/$1.out" '^device on ' 1 20 || die "proxy did not start: $(tail -5 "$T/$1.err")"
    PPORT=$(sed -n 's/^device on tcp:127.0.0.1://p' "$T/$1.out")
}
queued() { c=$(ls "$T/pstore/queue" 2>/dev/null | grep -c '\.msg$'); echo "${c:-0}"; }
wrote() { count "$T/fw.out" '^evolu-fw: wrote reading'; }

W=16  # readings in all: before, during and after the outage
start_relay 0
RPORT=${URL##*:}
start_proxy proxy1 0
say "relay $URL ($KIND), proxy on $PPORT"
# QEMU: UART0 is a TCP client of the proxy that reconnects if the proxy goes
(cd "$T" && exec qemu-system-arm -M mps2-an505 -nographic -monitor none \
    -semihosting-config enable=on,target=native -kernel "$ELF" \
    -chardev "socket,id=uart0,host=127.0.0.1,port=$PPORT,reconnect=1" -serial chardev:uart0 \
    -append "$K ticks=$W period_ms=500 idle=240 state=fw.state" \
    >"$T/fw.out" 2>&1 </dev/null) &
QEMU_PID=$!
watchdog "$QEMU_PID" 600
check "device provisioned" wait_for "$T/fw.out" '^evolu-fw: provisioned' 1 60

# 1. the app sees the device's readings
check "device wrote 4 readings" wait_for "$T/fw.out" '^evolu-fw: wrote reading' 4 60
ts wait-rows reading 4 60 >/dev/null 2>>"$T/app.err" || bad "app: wait-rows reading 4"
got=$(app_rows)
n=$(printf '%s\n' "$got" | grep -c '"note":"tick ')
check "the app sees the device's readings ($n >= 4)" [ "$n" -ge 4 ]
say "app sees $n readings"

# 2. a change the app makes reaches the device
ts insert reading '{"value":555,"note":"from the app"}' sync >/dev/null 2>>"$T/app.err" ||
    bad "app: insert and sync"
check "the app's row reached the device" wait_for "$T/fw.out" '"value":555,"note":"from the app"' 1 60

# 3. relay down; the device keeps writing; the proxy queues, is killed and restarted
before=$(wrote)
stop_relay
say "relay stopped after $before readings"
check "device kept writing during the outage" wait_for "$T/fw.out" '^evolu-fw: wrote reading' $((before + 3)) 60
n=0; while [ "$(queued)" -lt 2 ] && [ $n -lt 50 ]; do sleep 0.2; n=$((n + 1)); done
q1=$(queued)
check "the proxy queued the device's pushes ($q1 >= 2)" [ "$q1" -ge 2 ]
kill -9 "$PROXY_PID" 2>/dev/null; wait "$PROXY_PID" 2>/dev/null; PROXY_PID=
q2=$(queued)
check "the queue survived kill -9 ($q2 >= $q1)" [ "$q2" -ge "$q1" ]
start_proxy proxy2 "$PPORT"
check "QEMU reconnected to the restarted proxy" wait_for "$T/proxy2.err" 'device session established' 1 30
mid=$(wrote)
check "device kept writing through the restarted proxy" wait_for "$T/fw.out" '^evolu-fw: wrote reading' $((mid + 2)) 60
during=$(($(wrote) - before))
say "$during readings during the outage, $(queued) messages queued"

# 4. the relay returns on its port; everything converges
backlog=$(ls "$T/pstore/queue" | grep '\.msg$')
start_relay "$RPORT"
check "relay back on its port" [ "$URL" = "ws://127.0.0.1:$RPORT" ]
# every tick ends in a reading; a host-store write cut by the proxy's kill is
# retried by the firmware once the link is back (`retry store`), an `error
# store` would be a reading lost
check "device finished its $W ticks" wait_for "$T/fw.out" '^evolu-fw: \(wrote reading\|error store\)' $W 90
lost=$(count "$T/fw.out" '^evolu-fw: error store')
R=$(wrote)
check "no reading lost ($R written, $lost store errors)" [ "$R.$lost" = "$W.0" ]
say "$R readings written, $(count "$T/fw.out" '^evolu-fw: retry store') store writes retried after the proxy's kill"
# the backlog went out and was answered (the device keeps syncing, so newer
# messages come and go all the time)
left() { for f in $backlog; do [ -e "$T/pstore/queue/$f" ] && echo "$f"; done; }
n=0; while [ -n "$(left)" ] && [ $n -lt 150 ]; do sleep 0.2; n=$((n + 1)); done
check "the proxy's backlog of $(echo $backlog | wc -w) was forwarded and answered ($(left | wc -l) left)" [ -z "$(left)" ]
sleep 4  # the device's sync rounds after its last reading and the table report
dev=$(last_table "$T/fw.out")
got=$(app_rows sync)
check "the app has all $R readings" [ "$(printf '%s\n' "$got" | grep -c '"note":"tick ')" = "$R" ]
if [ "$got" = "$dev" ]; then ok; else
    bad "app and device tables differ"; printf 'app:\n%s\ndevice:\n%s\n' "$got" "$dev" >&2; fi
C=$T/c.db
"$E" -d "$C" owner restore "$M" >/dev/null 2>&1 || bad "C client: owner restore"
"$E" -d "$C" schema "reading(value, note)" >/dev/null 2>&1 || bad "C client: schema"
timeout 60 "$E" -d "$C" sync "$URL" --timeout 50 >/dev/null 2>"$T/csync.err" ||
    bad "C client sync: $(cat "$T/csync.err")"
cq=$("$E" -d "$C" query "select id, value, note from reading where isDeleted is not 1 order by id")
if [ "$cq" = "$dev" ]; then ok; else
    bad "C client and device tables differ"; printf 'client:\n%s\ndevice:\n%s\n' "$cq" "$dev" >&2; fi

kill "$QEMU_PID" 2>/dev/null; wait "$QEMU_PID" 2>/dev/null; QEMU_PID=
kill "$PROXY_PID" 2>/dev/null; wait "$PROXY_PID"; prc=$?; PROXY_PID=
check "proxy exits 0 on SIGTERM (got $prc)" [ "$prc" = 0 ]
stop_relay
rows=$(printf '%s\n' "$dev" | grep -c '"id"')
echo "e2e device ($KIND relay): $checks checked, $fails failed; $R readings in $W ticks ($during during the outage, proxy killed and restarted, $lost lost), $rows rows identical on device, app and C client"
if [ "$fails" != 0 ]; then
    for f in fw.out proxy1.err proxy2.err relay.err app.err; do
        echo "--- $f"; grep -v '^evolu-fw: row' "$T/$f" 2>/dev/null | tail -20; done >&2
fi
[ "$fails" = 0 ]
