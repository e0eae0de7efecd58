#!/bin/sh
# test_firmware.sh - the firmware (firmware/, docs/firmware.md) on the emulated
# STM32U5 stand-in, qemu-system-arm -M mps2-an505:
#   1. cross-builds it (device/ with cmake/arm-none-eabi.cmake) for QEMU and
#      for the real STM32U5 memory map, prints both sizes and FAILS when the
#      STM32U5 image's flash (text + data) is over the device-core budget,
#      65,536 B;
#   2. QEMU <-> evolu-fw-peer (host store + relay policy, no proxy): first boot
#      provisions the owner from its keys on the command line (owner_keys=,
#      what `evolu owner show --device` derives from the mnemonic), writes N
#      readings, syncs them, receives a change of the same owner, reports its
#      table, and prints its peak RAM (painted stack + static), which FAILS
#      the test over the device-core budget, 16,384 B;
#   3. a reboot from the semihosting state file: reloads, syncs to a fresh
#      relay, receives a note that is JSON nested deeper than the device
#      decodes (not held, never refused); another reboot rebuilds it and
#      receives a small JSON note (held as its text); the peak RAM of both,
#      with the JSON decoder on the stack, is checked against the same budget;
#   4. when `evolu proxy` exists: QEMU <-> proxy <-> `evolu relay --port 0` <->
#      a C client restored from the same mnemonic: the client sees the
#      device's readings and its own change reaches the device; then the
#      relay is stopped while the device keeps writing (the proxy queues),
#      restarted on the same port and database, and afterwards the client and
#      the device hold identical tables.
# QEMU or the cross toolchain missing is a failure (scripts/device-deps.sh
# installs them). Every process is bounded and stopped by its own PID.
# usage: sh test_firmware.sh BUILD_DIR PATH_TO_evolu
set -u
B=${1:?usage: test_firmware.sh BUILD_DIR EVOLU}
E=${2:-}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/evolu-fw-XXXXXX")
PEER_PID=; QEMU_PID=; RELAY_PID=; PROXY_PID=
cleanup() {
    for p in $QEMU_PID $PEER_PID $PROXY_PID $RELAY_PID; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
. "$ROOT/firmware/test/fw_test_lib.sh"

for tool in qemu-system-arm arm-none-eabi-gcc arm-none-eabi-size; do
    command -v "$tool" >/dev/null 2>&1 ||
        { echo "FAIL: $tool not found (run scripts/device-deps.sh)" >&2; exit 1; }
done
SRC=$ROOT/build/device-src
[ -f "$SRC/libsodium/src/libsodium/crypto_aead/xchacha20poly1305/sodium/aead_xchacha20poly1305.c" ] ||
    { echo "FAIL: libsodium sources missing in $SRC (run scripts/device-deps.sh)" >&2; exit 1; }

# 1. cross build
D=$B/fw-device
mkdir -p "$B"
flock "$B/fw-device.lock" sh -c 'cmake -S "$1/device" -B "$2" -DCMAKE_TOOLCHAIN_FILE="$1/cmake/arm-none-eabi.cmake" \
    -DEVOLU_DEVICE_SRC="$3" && cmake --build "$2" -j2 --target evolu_firmware evolu_firmware_stm32u5' \
    sh "$ROOT" "$D" "$SRC" >"$T/cross.log" 2>&1 ||
    { tail -30 "$T/cross.log" >&2; echo "FAIL: cross build of the firmware" >&2; exit 1; }
ELF=$D/evolu_firmware.elf
echo "firmware size (arm-none-eabi-size; text+data = flash, data+bss = static RAM):"
arm-none-eabi-size "$ELF" "$D/evolu_firmware_stm32u5.elf"
set -- $(arm-none-eabi-size "$D/evolu_firmware_stm32u5.elf" | tail -n 1)
FLASH=$(($1 + $2)); STATIC=$(($2 + $3))
# the device-core budgets (issue 6/7): flash of the linked image, and peak RAM
# (static + painted stack under QEMU) of every run that reports it
FLASH_BUDGET=65536; RAM_BUDGET=16384
echo "firmware flash (STM32U5 image, text + data): $FLASH B of $FLASH_BUDGET B"
check "flash within the budget ($FLASH B <= $FLASH_BUDGET B)" [ "$FLASH" -le "$FLASH_BUDGET" ]
check "static RAM fits 768 KiB ($STATIC B)" [ "$STATIC" -le 786432 ]
fw_host_tools
fw_owner_keys

# run_qemu NAME PORT APPEND: the firmware on the board, stdout = semihosting
run_qemu() {
    # (bounded by wait_pid, which kills it by PID: `timeout` in a background
    # job let QEMU outlive it)
    (cd "$T" && exec qemu-system-arm -M mps2-an505 -nographic -monitor none \
        -semihosting-config enable=on,target=native -kernel "$ELF" \
        -serial "tcp:127.0.0.1:$2" -append "$3" >"$T/$1.out" 2>&1 </dev/null) &  # semihosting writes go to stderr
    QEMU_PID=$!
}

# 2. first boot against the peer
N=5
start_peer q1 "$T/store" --mnemonic "$M" --inject-after 3
run_qemu q1 "$PEER_PORT" "$K ticks=$N period_ms=200 idle=3 state=fw.state"
wait_pid "$QEMU_PID" 140; QEMU_PID=
stop_peer
check "QEMU exit 0 (got $RC)" [ "$RC" = 0 ]
check "provisioned" grep -q '^evolu-fw: provisioned owner=' "$T/q1.out"
check "$N readings written" [ "$(grep -c '^evolu-fw: wrote reading' "$T/q1.out")" = $N ]
rows=$(last_table "$T/q1.out")
check "device table has N+1 rows" [ "$(printf '%s\n' "$rows" | grep -c '"id"')" = $((N + 1)) ]
check "the peer's change reached the device" sh -c "printf '%s\n' '$rows' | grep -q '\"value\":999,\"note\":\"from peer\"'"
check "relay holds N+1 messages" grep -q "^peer: relay messages=$((N + 1)) " "$T/q1.peer.out"
grep -E '^evolu-fw: (memory|link frames)' "$T/q1.out"
# mem_of OUT: MS MK MT = static, painted stack, total of its memory line (or ?)
mem_of() {
    MS=?; MK=?; MT=?
    set -- $(sed -n 's/^evolu-fw: memory static=\([0-9]*\) stack=\([0-9]*\) total=\([0-9]*\).*/\1 \2 \3/p' "$1")
    [ $# -eq 3 ] && { MS=$1; MK=$2; MT=$3; }
}
within_ram() { [ "$MT" != ? ] && [ "$MT" -le "$RAM_BUDGET" ]; }
mem_of "$T/q1.out"; PEAK=$MT
echo "firmware peak RAM under QEMU: static $MS B + painted stack $MK B = $MT B of $RAM_BUDGET B"
check "peak RAM within the budget ($MT B <= $RAM_BUDGET B)" within_ram

# 3. reboot: state file and host store bring it back; a fresh relay gets all
#    N+2; then the relay side writes a note that is a JSON value nested 40
#    deep (Evolu sends it as MessagePack): deeper than the device decodes
#    (EVOLU_JSON_MAX_DEPTH 32 in its build, a 5-byte stack record per level),
#    so it is not held - checked, stored, synced, never refused
DEEP=$(printf '%40s' '' | tr ' ' '['; printf 1; printf '%40s' '' | tr ' ' ']')
start_peer q2 "$T/store" --mnemonic "$M" --inject-after $((N + 2)) --inject-note "$DEEP"
run_qemu q2 "$PEER_PORT" "ticks=1 period_ms=200 idle=2 state=fw.state"
wait_pid "$QEMU_PID" 140; QEMU_PID=
stop_peer
check "reboot exit 0 (got $RC)" [ "$RC" = 0 ]
check "no second provisioning" sh -c "! grep -q provisioned '$T/q2.out'"
check "reloaded N+1 entries" grep -q "^evolu-fw: loaded entries=$((N + 1)) rows=$((N + 1))" "$T/q2.out"
check "fresh relay got all N+2, then the JSON note" grep -q "^peer: relay messages=$((N + 3)) " "$T/q2.peer.out"
check "deep JSON: no error" sh -c "! grep -q '^evolu-fw: error' '$T/q2.out'"
check "deep JSON: not held (its 41 bytes of MessagePack)" \
    grep -q '^evolu-fw: row {"id":"[^"]*","value":999,"note":{"\$notHeld":41}}$' "$T/q2.out"
check "deep JSON: converged after it" sh -c "sed -n '/notHeld/,\$p' '$T/q2.out' | grep -q '^evolu-fw: synced entries=$((N + 3)) rows=$((N + 3))'"
mem_of "$T/q2.out"
echo "firmware peak RAM after the reboot (a JSON value received): static $MS B + painted stack $MK B = $MT B of $RAM_BUDGET B"
check "peak RAM after the reboot within the budget ($MT B <= $RAM_BUDGET B)" within_ram
if [ "$MT" != ? ] && { [ "$PEAK" = ? ] || [ "$MT" -gt "$PEAK" ]; }; then PEAK=$MT; fi

# 3b. another reboot: the deep JSON change is rebuilt from the host store (not
#     held again), and a small JSON note, as a TypeScript app writes it, is
#     decoded and held as its JSON text
start_peer qj "$T/store" --mnemonic "$M" --inject-after $((N + 3)) --inject-note '{"a":1,"b":2.5}'
run_qemu qj "$PEER_PORT" "ticks=0 period_ms=200 idle=2 state=fw.state"
wait_pid "$QEMU_PID" 140; QEMU_PID=
stop_peer
check "JSON reboot exit 0 (got $RC)" [ "$RC" = 0 ]
check "JSON: no error" sh -c "! grep -q '^evolu-fw: error' '$T/qj.out'"
check "JSON: the deep note rebuilt, not held" grep -q "^evolu-fw: loaded entries=$((N + 3)) rows=$((N + 3))" "$T/qj.out"
check "JSON: a small JSON note held as its text" \
    grep -q '^evolu-fw: row {"id":"[^"]*","value":999,"note":"{\\"a\\":1,\\"b\\":2.5}"}$' "$T/qj.out"
check "JSON: the table counts one not held" grep -q "^evolu-fw: table rows=$((N + 4)) not_held=1$" "$T/qj.out"
mem_of "$T/qj.out"
echo "firmware peak RAM with JSON values (rebuilt and received): static $MS B + painted stack $MK B = $MT B of $RAM_BUDGET B"
check "peak RAM with JSON values within the budget ($MT B <= $RAM_BUDGET B)" within_ram
if [ "$MT" != ? ] && { [ "$PEAK" = ? ] || [ "$MT" -gt "$PEAK" ]; }; then PEAK=$MT; fi

# 4. through the proxy and the C relay to a C client, with a relay outage
# wait_line FILE PATTERN COUNT SECONDS: until FILE has COUNT lines matching
wait_line() {
    n=0
    while [ "$(grep -c -- "$2" "$1" 2>/dev/null)" -lt "$3" ] && [ $n -lt $(($4 * 5)) ]; do
        sleep 0.2; n=$((n + 1)); done
    [ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "$3" ]
}
start_relay() { # PORT
    : >"$T/relay.out"
    timeout 300 "$E" relay --port "$1" --db "$T/relay.db" >"$T/relay.out" 2>>"$T/relay.err" &
    RELAY_PID=$!
    n=0; while ! grep -q '^listening on ' "$T/relay.out" && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    URL=$(sed -n 's/^listening on //p' "$T/relay.out")
}
if [ -n "$E" ] && "$E" proxy --help 2>&1 | grep -q -- '--relay'; then
    start_relay 0
    RPORT=${URL##*:}
    : >"$T/proxy.out"
    timeout 300 "$E" proxy --device tcp-listen:127.0.0.1:0 --store "$T/pstore" --relay "$URL" \
        >"$T/proxy.out" 2>"$T/proxy.err" &
    PROXY_PID=$!
    n=0; while ! grep -q '^device on ' "$T/proxy.out" && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    PPORT=$(sed -n 's/^device on tcp:127.0.0.1://p' "$T/proxy.out")
    rm -f "$T/fw.state"
    W=12   # readings in all: 5 before the outage, some during, the rest after
    run_qemu q3 "$PPORT" "$K ticks=$W period_ms=400 idle=200 state=fw.state"
    C=$T/c.db
    "$E" -d "$C" owner restore "$M" >/dev/null 2>&1 || bad "owner restore"
    "$E" -d "$C" schema "reading(value, note)" >/dev/null 2>&1 || bad "schema"
    Q="select id, value, note from reading where isDeleted is not 1 order by id"
    check "device wrote $N readings" wait_line "$T/q3.out" '^evolu-fw: wrote reading' $N 90
    sleep 1
    timeout 40 "$E" -d "$C" sync "$URL" --timeout 30 >/dev/null 2>"$T/sync1.err" || bad "client sync: $(cat "$T/sync1.err")"
    got=$("$E" -d "$C" query "$Q")
    check "C client sees the device's readings ($(printf '%s\n' "$got" | grep -c '"note":"tick ') >= $N)" \
        [ "$(printf '%s\n' "$got" | grep -c '"note":"tick ')" -ge $N ]
    "$E" -d "$C" insert reading '{"value":777,"note":"from client"}' >/dev/null || bad "insert"
    timeout 40 "$E" -d "$C" sync "$URL" --timeout 30 >/dev/null 2>"$T/sync2.err" || bad "client sync 2"
    check "the client's change reached the device" wait_line "$T/q3.out" '"value":777,"note":"from client"' 1 60
    # the relay goes away; the device keeps writing, the proxy queues
    before=$(grep -c '^evolu-fw: wrote reading' "$T/q3.out")
    kill "$RELAY_PID" 2>/dev/null; wait "$RELAY_PID" 2>/dev/null; RELAY_PID=
    check "device told the relay is down" wait_line "$T/q3.out" '^evolu-fw: relay down' 2 30
    check "device kept writing during the outage" wait_line "$T/q3.out" '^evolu-fw: wrote reading' $((before + 2)) 60
    during=$(grep -c '^evolu-fw: wrote reading' "$T/q3.out")
    start_relay "$RPORT"
    check "relay back on its port" [ "$URL" = "ws://127.0.0.1:$RPORT" ]
    check "device wrote all $W readings" wait_line "$T/q3.out" '^evolu-fw: wrote reading' $W 120
    sleep 4   # a few more sync rounds after the last reading
    timeout 40 "$E" -d "$C" sync "$URL" --timeout 30 >/dev/null 2>"$T/sync3.err" || bad "client sync 3"
    got=$("$E" -d "$C" query "$Q")
    dev=$(last_table "$T/q3.out")
    check "after the outage the C client has all $W readings" \
        [ "$(printf '%s\n' "$got" | grep -c '"note":"tick ')" = $W ]
    if [ "$got" = "$dev" ]; then ok; else
        bad "device and C client tables differ"; printf 'client:\n%s\ndevice:\n%s\n' "$got" "$dev" >&2; fi
    kill "$QEMU_PID" 2>/dev/null; wait "$QEMU_PID" 2>/dev/null; QEMU_PID=
    kill "$PROXY_PID" 2>/dev/null; wait "$PROXY_PID" 2>/dev/null; PROXY_PID=
    kill "$RELAY_PID" 2>/dev/null; wait "$RELAY_PID" 2>/dev/null; RELAY_PID=
    PROXY_NOTE="through evolu proxy + relay: $W readings ($((during - before)) during the outage), tables identical"
else
    PROXY_NOTE="proxy part not run: evolu proxy is not built yet"
fi
echo "$PROXY_NOTE"

echo "firmware under QEMU: $checks checked, $fails failed; N=$N readings synced, flash $FLASH B of $FLASH_BUDGET, peak RAM ${PEAK:-?} B of $RAM_BUDGET (static $STATIC B); $PROXY_NOTE"
if [ "$fails" != 0 ]; then
    for f in "$T"/q*.out; do echo "--- $f"; grep -v '^evolu-fw: row' "$f" | tail -15; done >&2
fi
[ "$fails" = 0 ]
