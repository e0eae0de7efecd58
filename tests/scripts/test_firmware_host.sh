#!/bin/sh
# test_firmware_host.sh - the firmware app built for the host (firmware/host:
# a TCP socket instead of UART0) against evolu-fw-peer (the device's host store
# in a directory, and the relay policy over an in-memory index): first boot
# provisions the owner from its keys (owner_keys=, from `evolu owner show
# --device` of the mnemonic), N readings are written, indexed on
# the host and synced; a change of the same owner made on the relay side
# reaches the device's table; a reboot reloads the trusted state, rebuilds
# the table from the host store and syncs everything to a fresh relay; a
# replayed or altered index is refused; a host that dies between its commit
# and its reply loses no reading; a note longer than the device holds is
# marked "not held" (never cut), and sync still converges; a ~1,100-byte
# change the device received and stored reaches a fresh relay from it; more
# readings than the table holds are all stored and synced, the table counting
# what it does not show. Fast; no QEMU. See
# docs/firmware.md.
# usage: sh test_firmware_host.sh BUILD_DIR [PATH_TO_evolu]
set -u
B=${1:?usage: test_firmware_host.sh BUILD_DIR [EVOLU]}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/evolu-fwh-XXXXXX")
PEER_PID=; FW_PID=
cleanup() {
    [ -n "$FW_PID" ] && kill "$FW_PID" 2>/dev/null
    [ -n "$PEER_PID" ] && kill "$PEER_PID" 2>/dev/null
    wait 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$T"; [ -n "${KEEP:-}" ] && echo "kept $T"
}
trap cleanup EXIT
. "$ROOT/firmware/test/fw_test_lib.sh"
E=${2:-}
fw_host_tools
fw_owner_keys
N=6

# run_fw SECONDS NAME STATE ARGS...: one run of the host firmware against the
# running peer, to its end (bounded by timeout, then wait_pid's kill): its
# output in $T/NAME.out, its exit status in RC.
run_fw() {
    fw_secs=$1 fw_name=$2 fw_state=$3
    shift 3
    timeout "$fw_secs" "$FW_HOST" --connect "127.0.0.1:$PEER_PORT" --state "$fw_state" "$@" \
        >"$T/$fw_name.out" 2>&1 &
    FW_PID=$!
    wait_pid "$FW_PID" $((fw_secs - 10)); FW_PID=
}

# 1. first boot: provision, write N readings, receive the peer's change
start_peer boot1 "$T/store" --mnemonic "$M" --inject-after 3
run_fw 120 fw1 "$T/fw.state" "$K" ticks=$N period_ms=100 idle=3
check "firmware exit 0 (got $RC)" [ "$RC" = 0 ]
stop_peer
check "provisioned" grep -q '^evolu-fw: provisioned owner=' "$T/fw1.out"
check "$N readings written" [ "$(grep -c '^evolu-fw: wrote reading' "$T/fw1.out")" = $N ]
rows=$(last_table "$T/fw1.out")
check "table has N+1 rows" [ "$(printf '%s\n' "$rows" | grep -c '"id"')" = $((N + 1)) ]
check "peer's change reached the device" sh -c "printf '%s\n' '$rows' | grep -q '\"value\":999,\"note\":\"from peer\"'"
check "relay holds N+1 messages" grep -q "^peer: relay messages=$((N + 1)) " "$T/boot1.peer.out"

# 2. reboot: the trusted state and the host store bring everything back; a
#    fresh relay gets everything from the device's sync
start_peer boot2 "$T/store"
run_fw 120 fw2 "$T/fw.state" ticks=2 period_ms=100 idle=1
check "reboot exit 0 (got $RC)" [ "$RC" = 0 ]
stop_peer
check "no second provisioning" sh -c "! grep -q provisioned '$T/fw2.out'"
check "reloaded N+1 entries" grep -q "^evolu-fw: loaded entries=$((N + 1)) rows=$((N + 1))" "$T/fw2.out"
check "fresh relay got all N+3" grep -q "^peer: relay messages=$((N + 3)) " "$T/boot2.peer.out"

# 3. the host store is untrusted: an older index put back (a replay) and a
#    flipped bit are refused with typed errors; the trusted state is the
#    device's (this caught the firmware saving the state before the one the
#    store was adopting)
cp "$T/store/index" "$T/index.old"
fw_boot() { # NAME TICKS
    start_peer "$1" "$T/store"
    run_fw 60 $1 "$T/fw.state" ticks="$2" period_ms=50
    stop_peer
}
fw_boot boot3 1
check "boot3 wrote" grep -q '^evolu-fw: wrote reading' "$T/boot3.out"
cp "$T/store/index" "$T/index.new"
cp "$T/index.old" "$T/store/index"
fw_boot boot4 0
check "replayed index refused" grep -q '^evolu-fw: error store-open EVOLU_E_STREAM_REPLAY' "$T/boot4.out"
cp "$T/index.new" "$T/store/index"
printf '\377' | dd of="$T/store/index" bs=1 seek=100 conv=notrunc 2>/dev/null
fw_boot boot5 0
check "flipped bit refused" grep -q '^evolu-fw: error rebuild EVOLU_E_STREAM_TAMPERED' "$T/boot5.out"
cp "$T/index.new" "$T/store/index"
fw_boot boot6 0
check "the real index is accepted again" grep -q "^evolu-fw: loaded entries=$((N + 4)) " "$T/boot6.out"

# 4. the host loses power right after committing a reading's index, before
#    its reply: the device reconnects, reopens the store (the commit it did
#    not see is promoted) and merges the same reading again - nothing lost,
#    nothing doubled
start_peer boot7 "$T/store" --drop-at-commit 1
run_fw 90 boot7 "$T/fw.state" --reconnect ticks=2 period_ms=100
stop_peer
check "the peer dropped the device after a commit" grep -q '^peer: dropped the device' "$T/boot7.peer.out"
check "the device retried the store write" grep -q '^evolu-fw: retry store' "$T/boot7.out"
check "both readings written, none lost" [ "$(grep -c '^evolu-fw: wrote reading' "$T/boot7.out")" = 2 ]
check "no store error" sh -c "! grep -q '^evolu-fw: error store' '$T/boot7.out'"
fw_boot boot8 0
check "the index holds exactly 2 more ($((N + 6)))" grep -q "^evolu-fw: loaded entries=$((N + 6)) " "$T/boot8.out"

# 5. a value longer than the device holds (FW_TEXT_MAX 16): a 40-character
#    note, as a TypeScript app may write, is not held - the cell keeps its
#    timestamp and length and says so - while the change is checked, stored
#    and synced like any other: the device converges, nothing is refused, and
#    after a reboot it is rebuilt the same and synced to a fresh relay
LONG="a note of forty characters, not for a fw"
start_peer long1 "$T/store2" --mnemonic "$M" --inject-after 2 --inject-note "$LONG"
run_fw 120 long1 "$T/fw2.state" "$K" ticks=3 period_ms=100 idle=3
stop_peer
check "long note: exit 0 (got $RC)" [ "$RC" = 0 ]
check "long note: no error" sh -c "! grep -q '^evolu-fw: error' '$T/long1.out'"
check "long note: the row says its note is not held" \
    grep -q '^evolu-fw: row {"id":"[^"]*","value":999,"note":{"\$notHeld":40}}$' "$T/long1.out"
check "long note: the table counts it" grep -q '^evolu-fw: table rows=4 not_held=1$' "$T/long1.out"
check "long note: converged after it" sh -c "sed -n '/notHeld/,\$p' '$T/long1.out' | grep -q '^evolu-fw: synced entries=4 rows=4'"
start_peer long2 "$T/store2"
run_fw 60 long2 "$T/fw2.state" ticks=0 period_ms=50
stop_peer
check "long note: rebuilt from the host store" grep -q '^evolu-fw: loaded entries=4 rows=4' "$T/long2.out"
check "long note: still not held after the reboot" grep -q '"note":{"\$notHeld":40}' "$T/long2.out"
check "long note: a fresh relay gets it from the device" grep -q "^peer: relay messages=4 " "$T/long2.peer.out"

# 6. the largest change the device stores, it can send: a ~1,100-byte
#    change (a 1,000-character note) received from the relay, stored, then a
#    reboot against a FRESH relay that lacks it - the device's sync must carry
#    it there (before, its replies held at most 977-byte changes, so this
#    stopped every sync with EVOLU_E_LIMIT, for good)
BIG=$(printf '%1000s' '' | tr ' ' '.')
start_peer big1 "$T/store3" --mnemonic "$M" --inject-after 1 --inject-note "$BIG"
run_fw 120 big1 "$T/fw3.state" "$K" ticks=2 period_ms=100 idle=3
stop_peer
BIGLEN=$(sed -n 's/^peer: injected id=[^ ]* bytes=\([0-9]*\)$/\1/p' "$T/big1.peer.out")
check "big change: injected, 1,100..1,152 bytes (got ${BIGLEN:-none})" \
    sh -c "[ -n '$BIGLEN' ] && [ '$BIGLEN' -ge 1100 ] && [ '$BIGLEN' -le 1152 ]"
check "big change: received with no error" sh -c "! grep -q '^evolu-fw: error' '$T/big1.out'"
check "big change: its note not held" grep -q '"note":{"\$notHeld":1000}' "$T/big1.out"
start_peer big2 "$T/store3"
run_fw 60 big2 "$T/fw3.state" ticks=0 idle=1 period_ms=50
stop_peer
check "big change: sent to a fresh relay with no error" sh -c "! grep -q '^evolu-fw: error' '$T/big2.out'"
check "big change: the fresh relay holds all 3" grep -q "^peer: relay messages=3 " "$T/big2.peer.out"
RELAYED=$(sed -n 's/^peer: relay messages=3 injected=- bytes=\([0-9]*\)$/\1/p' "$T/big2.peer.out")
check "big change: its bytes among them (${RELAYED:-?} >= $BIGLEN + 2 readings)" \
    sh -c "[ -n '$RELAYED' ] && [ '$RELAYED' -gt '$BIGLEN' ]"

# 7. more readings than the table holds (FW_ROWS 22): the table is a bounded
#    view of the stream store. Every reading is still written, stored and
#    pushed, the device stays synced, and the table counts what it does not
#    show; after a reboot it is rebuilt by the same rule (the first 22 rows in
#    the store's order), a peer's change to a held row applies, and a new row
#    received while the table is full is counted, never refused (before, the
#    23rd tick was `error reading` and such a batch stopped sync for good)
MANY=30
start_peer full1 "$T/store4"
run_fw 120 full1 "$T/fw4.state" "$K" ticks=$MANY period_ms=20 idle=1
stop_peer
check "full: exit 0 (got $RC)" [ "$RC" = 0 ]
check "full: no error" sh -c "! grep -q '^evolu-fw: error' '$T/full1.out'"
check "full: $MANY readings written" [ "$(grep -c '^evolu-fw: wrote reading' "$T/full1.out")" = $MANY ]
check "full: the relay got all $MANY" grep -q "^peer: relay messages=$MANY " "$T/full1.peer.out"
check "full: synced with all $MANY stored" grep -q "^evolu-fw: synced entries=$MANY rows=22$" "$T/full1.out"
check "full: the table shows 22, counts 8 not held" \
    sh -c "grep '^evolu-fw: table rows=' '$T/full1.out' | tail -n 1 | grep -q '^evolu-fw: table rows=22 changes_not_held=8$'"
check "full: 22 rows listed" [ "$(last_table "$T/full1.out" | grep -c '"id"')" = 22 ]
FIRST=$(sed -n 's/^evolu-fw: wrote reading id=\([^ ]*\) .*/\1/p' "$T/full1.out" | head -n 1)
start_peer full2 "$T/store4" --mnemonic "$M" --inject-after 0 --inject-id "$FIRST" --inject-note "changed"
run_fw 60 full2 "$T/fw4.state" ticks=0 idle=2 period_ms=50
stop_peer
check "full: reboot exit 0 (got $RC)" [ "$RC" = 0 ]
check "full: reboot, no error" sh -c "! grep -q '^evolu-fw: error' '$T/full2.out'"
check "full: rebuilt 22 of $MANY rows" grep -q "^evolu-fw: loaded entries=$MANY rows=22$" "$T/full2.out"
check "full: rebuilt, counts 8 not held" grep -q '^evolu-fw: table rows=22 changes_not_held=8$' "$T/full2.out"
check "full: the peer's change to a held row applied" \
    sh -c "grep -q '^evolu-fw: row {\"id\":\"$FIRST\",\"value\":999,\"note\":\"changed\"}$' '$T/full2.out'"
check "full: a fresh relay gets all $((MANY + 1))" grep -q "^peer: relay messages=$((MANY + 1)) " "$T/full2.peer.out"
start_peer full3 "$T/store4" --mnemonic "$M" --inject-after 0
run_fw 60 full3 "$T/fw4.state" ticks=0 idle=2 period_ms=50
stop_peer
check "full: a new row received when full, no error" sh -c "! grep -q '^evolu-fw: error' '$T/full3.out'"
check "full: it is stored and synced" grep -q "^evolu-fw: synced entries=$((MANY + 2)) rows=22$" "$T/full3.out"
check "full: and counted, not shown" \
    sh -c "grep '^evolu-fw: table rows=' '$T/full3.out' | tail -n 1 | grep -q '^evolu-fw: table rows=22 changes_not_held=9$'"
check "full: the held row keeps the peer's change" grep -q "\"id\":\"$FIRST\",\"value\":999,\"note\":\"changed\"" "$T/full3.out"

echo "firmware (host build): $checks checked, $fails failed; readings N=$N, rows $(printf '%s\n' "$rows" | grep -c '"id"')"
[ "$fails" = 0 ]
