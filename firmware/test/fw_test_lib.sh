# fw_test_lib.sh - shared by tests/scripts/test_firmware*.sh (sourced, POSIX sh).
# Needs: ROOT (repository), B (build dir), T (temp dir), E (evolu, may be unused).
# Every process started is bounded by `timeout` and stopped by its own PID.
fails=0; checks=0
ok() { checks=$((checks + 1)); }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*" >&2; }
check() { # WHAT CONDITION-COMMAND...
    what=$1; shift
    if "$@"; then ok; else bad "$what"; fi
}
M="abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art"

# fw_owner_keys: sets K, the firmware's first-boot argument owner_keys=<hex> for
# the owner of M, derived on the host by `evolu owner show --device` (the device
# carries no BIP-39 code). The e2e tests restore the TypeScript app and the C
# client from M itself, so they prove the keys are that owner's.
fw_owner_keys() {
    [ -n "${E:-}" ] && [ -x "$E" ] || { echo "FAIL: evolu is needed for owner_keys" >&2; exit 1; }
    K=$("$E" owner show --device "$M")
    case $K in owner_keys=*) ;; *) echo "FAIL: evolu owner show --device printed '$K'" >&2; exit 1 ;; esac
}

# fw_host_tools: sets FW_HOST and FW_PEER (built by the top-level build).
fw_host_tools() {
    FW_HOST=$B/firmware/evolu-fw-host; FW_PEER=$B/firmware/evolu-fw-peer
    [ -x "$FW_HOST" ] && [ -x "$FW_PEER" ] && return 0
    echo "FAIL: $FW_HOST or $FW_PEER is not built (the top-level build makes them)" >&2
    exit 1
}

# start_peer NAME STORE [ARGS...]: sets PEER_PID and PEER_PORT
start_peer() {
    name=$1; store=$2; shift 2
    : >"$T/$name.peer.out"
    timeout 300 "$FW_PEER" --listen 0 --store "$store" --timeout 280 "$@" \
        >"$T/$name.peer.out" 2>"$T/$name.peer.err" &
    PEER_PID=$!
    n=0
    while ! grep -q '^device on ' "$T/$name.peer.out" && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    PEER_PORT=$(sed -n 's/^device on tcp:127.0.0.1://p' "$T/$name.peer.out")
    [ -n "$PEER_PORT" ] || { echo "FAIL: peer did not start: $(cat "$T/$name.peer.err")" >&2; exit 1; }
}
stop_peer() { [ -n "$PEER_PID" ] && kill "$PEER_PID" 2>/dev/null; wait "$PEER_PID" 2>/dev/null; PEER_PID=; }

# wait_pid PID SECONDS: waits for PID to end by itself, else kills it; sets RC
wait_pid() {
    n=0
    while kill -0 "$1" 2>/dev/null && [ $n -lt $(($2 * 10)) ]; do sleep 0.1; n=$((n + 1)); done
    if kill -0 "$1" 2>/dev/null; then kill "$1" 2>/dev/null; fi
    wait "$1"; RC=$?
}

# last_table OUT: the rows of the last "table" report of a firmware output
last_table() {
    awk '/^evolu-fw: table rows=/ { n = 0; delete rows; next }
         /^evolu-fw: row / { sub(/^evolu-fw: row /, ""); rows[n++] = $0 }
         END { for (i = 0; i < n; i++) print rows[i] }' "$1"
}
