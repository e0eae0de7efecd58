#!/bin/sh
# test_firmware_demo.sh - the device demo (firmware/demo.sh) with the evolu
# program of this build: the firmware under QEMU, evolu proxy, evolu relay and
# C clients; the watch must show the device's readings live, the phone's row
# must reach the device, and the device's table and the client's must end
# identical. Skipped (exit 0 with a note) while `evolu proxy` is not built.
# usage: sh test_firmware_demo.sh BUILD_DIR PATH_TO_evolu
set -u
B=${1:?usage: test_firmware_demo.sh BUILD_DIR EVOLU}
E=${2:?usage: test_firmware_demo.sh BUILD_DIR EVOLU}
here=$(cd "$(dirname "$0")" && pwd)
if ! "$E" proxy --help 2>&1 | grep -q -- '--relay'; then
    echo "firmware demo: not run, evolu proxy is not built"; exit 0
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! EVOLU="$E" EVOLU_FW_BUILD="$B/fw-device" TICKS=6 timeout 300 sh "$here/../../firmware/demo.sh" \
    >"$out" 2>&1; then
    cat "$out"; echo "FAIL: the device demo exited with an error"; exit 1
fi
fail=0
check() {
    if grep -q -- "$1" "$out"; then echo "ok: $2"; else echo "FAIL: $2"; fail=1; fi
}
check '^converged: the device and the client hold identical rows (7 rows)$' "device and client identical, 6 readings + the phone's row"
check '^  client | {"table":"reading".*"column":"note","value":"tick 5"}' "the watch showed the last reading live"
check '"value":-1,"note":"set by the phone"}  |  {' "the phone's row is in the device's table"
check '^device memory static=' "the device reported its RAM"
[ $fail = 0 ] || cat "$out"
exit $fail
