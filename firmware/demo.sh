#!/bin/sh
# The device demo, end to end on this machine:
#   1. builds `evolu` and the firmware for the Cortex-M33 (installs the cross
#      toolchain and QEMU first, scripts/device-deps.sh),
#   2. starts `evolu relay` and `evolu proxy` on 127.0.0.1,
#   3. a C client creates an owner; the firmware is provisioned with its keys
#      (`evolu owner show --device`) and boots under qemu-system-arm -M mps2-an505, its UART0 on the
#      proxy: it writes a sensor reading every second, encrypted on the device,
#      indexed on the proxy's disk, synced through the relay,
#   4. the client watches the relay live (`evolu watch`) and prints each
#      reading as it arrives; halfway it adds a row of its own, which the
#      device applies,
#   5. at the end prints the device's table and the client's side by side.
# Everything runs in a temporary folder removed at the end (--keep keeps it).
# EVOLU=/path/to/evolu skips the host build; TICKS=N sets the readings (8).
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
keep=0
for a in "$@"; do
  case "$a" in
    --keep) keep=1 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown option '$a' (try --help)" >&2; exit 2 ;;
  esac
done
ticks=${TICKS:-8}
if [ -n "${EVOLU:-}" ]; then
  evolu=$EVOLU
else
  scripts/deps.sh build
  echo "== building evolu"
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j2 --target evolu >/dev/null
  evolu=$root/build/evolu
fi
echo "== building the firmware (arm-none-eabi, cortex-m33)"
scripts/device-deps.sh build/device-src >/dev/null
dev=${EVOLU_FW_BUILD:-build/device}
mkdir -p "$(dirname "$dev")"
flock "$dev.lock" sh -c 'cmake -S device -B "$1" -DCMAKE_TOOLCHAIN_FILE="$2/cmake/arm-none-eabi.cmake" \
  -DEVOLU_DEVICE_SRC="$2/build/device-src" && cmake --build "$1" -j2 --target evolu_firmware' \
  sh "$dev" "$root" >/dev/null
elf=$root/$dev/evolu_firmware.elf
case "$dev" in /*) elf=$dev/evolu_firmware.elf ;; esac

T=$(mktemp -d "${TMPDIR:-/tmp}/evolu-device-demo-XXXXXX")
RELAY=; PROXY=; QEMU=; WATCH=
cleanup() {
  for p in $QEMU $WATCH $PROXY $RELAY; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ $keep = 1 ]; then echo "(kept $T)"; else rm -rf "$T"; fi
}
trap cleanup EXIT
waitfor() { n=0; while ! grep -q "$2" "$1" 2>/dev/null && [ $n -lt 150 ]; do sleep 0.2; n=$((n + 1)); done; }

"$evolu" relay --port 0 --db "$T/relay.db" >"$T/relay.out" 2>"$T/relay.err" &
RELAY=$!
waitfor "$T/relay.out" '^listening on '
url=$(sed -n 's/^listening on //p' "$T/relay.out")
"$evolu" proxy --device tcp-listen:127.0.0.1:0 --relay "$url" --store "$T/host" \
  >"$T/proxy.out" 2>"$T/proxy.err" &
PROXY=$!
waitfor "$T/proxy.out" '^device on '
port=$(sed -n 's/^device on tcp:127.0.0.1://p' "$T/proxy.out")
echo "== relay $url, proxy listening for the device on 127.0.0.1:$port"

db=$T/client.db
mnemonic=$("$evolu" -d "$db" owner new)
"$evolu" -d "$db" schema "reading(value, note)" >/dev/null
# the device is provisioned with the owner's derived keys, not the words
keys=$("$evolu" -d "$db" owner show --device)
echo "== owner created by the C client; the device gets its keys (evolu owner show --device)"
"$evolu" -d "$db" watch "$url" >"$T/watch.out" 2>"$T/watch.err" &
WATCH=$!

(cd "$T" && exec qemu-system-arm -M mps2-an505 -nographic -monitor none \
  -semihosting-config enable=on,target=native -kernel "$elf" \
  -serial "tcp:127.0.0.1:$port" \
  -append "$keys ticks=$ticks period_ms=1000 idle=4 state=device.state" \
  >"$T/device.out" 2>&1 </dev/null) &
QEMU=$!
echo "== device booted under QEMU; live (device | client watch):"
shown_d=0; shown_w=0; added=0; n=0
while kill -0 "$QEMU" 2>/dev/null && [ $n -lt $((ticks * 20 + 300)) ]; do
  d=$(grep -cE '^evolu-fw: (wrote reading|booted|provisioned|relay )' "$T/device.out" 2>/dev/null || true)
  if [ "$d" -gt "$shown_d" ]; then
    grep -E '^evolu-fw: (wrote reading|booted|provisioned|relay )' "$T/device.out" |
      sed -n "$((shown_d + 1)),${d}p" | sed 's/^evolu-fw: /  device | /'
    shown_d=$d
  fi
  w=$(grep -c . "$T/watch.out" 2>/dev/null || true)
  if [ "$w" -gt "$shown_w" ]; then
    sed -n "$((shown_w + 1)),${w}p" "$T/watch.out" | sed 's/^/  client | /'
    shown_w=$w
  fi
  if [ $added = 0 ] && [ "$(grep -c '^evolu-fw: wrote reading' "$T/device.out")" -ge $((ticks / 2)) ]; then
    id=$("$evolu" -d "$T/client2.db" owner restore "$mnemonic" >/dev/null 2>&1;
         "$evolu" -d "$T/client2.db" schema "reading(value, note)" >/dev/null;
         "$evolu" -d "$T/client2.db" insert reading '{"value":-1,"note":"set by the phone"}')
    timeout 30 "$evolu" -d "$T/client2.db" sync "$url" --timeout 20 >/dev/null 2>&1 || true
    echo "  phone  | inserted reading $id (value -1) and synced"
    added=1
  fi
  sleep 0.2; n=$((n + 1))
done
wait "$QEMU" 2>/dev/null || true; QEMU=
timeout 30 "$evolu" -d "$db" sync "$url" --timeout 20 >/dev/null 2>&1 || true
q="select id, value, note from reading where isDeleted is not 1 order by id"
"$evolu" -d "$db" query "$q" >"$T/client.rows"
awk '/^evolu-fw: table rows=/ { n = 0; delete r; next }
     /^evolu-fw: row / { sub(/^evolu-fw: row /, ""); r[n++] = $0 }
     END { for (i = 0; i < n; i++) print r[i] }' "$T/device.out" >"$T/device.rows"
echo "== the device's table (over semihosting) | the C client's table"
paste -d'|' "$T/device.rows" "$T/client.rows" | sed 's/|/  |  /'
grep -E '^evolu-fw: memory' "$T/device.out" | sed 's/^evolu-fw: /device /'
if cmp -s "$T/device.rows" "$T/client.rows"; then
  echo "converged: the device and the client hold identical rows ($(grep -c . "$T/client.rows") rows)"
else
  echo "the device and the client differ"; exit 1
fi
