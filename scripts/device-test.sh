#!/usr/bin/env bash
# Runs the core's tests on an STM32U5-class Cortex-M33 under QEMU (mps2-an505):
#   1. scripts/device-deps.sh: cross toolchain, QEMU, Debian sources of libsodium
#      and cJSON (into build/device-src, never committed),
#   2. cross build of device/ (core + libsodium + device port + startup + tests),
#   3. size report: text/data/bss per object and the static worst-case stack,
#      checked against the budgets in device/CMakeLists.txt,
#   4. the same test programs built for the host (build/device-host) and run,
#   5. each target program under qemu-system-arm with semihosting (vector files
#      read from the host), bounded by a timeout and stopped by its own PID,
#   6. a table of host vs device pass counts: any difference, failure, fault or
#      timeout makes the script exit non-zero; then the stream store's tamper and
#      power-loss counts and the measured RAM of a sync round on the target.
# See docs/device.md. Environment: EVOLU_DEVICE_TIMEOUT (seconds per program,
# default 150), EVOLU_DEVICE_JOBS (parallel QEMU runs, default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${EVOLU_DEVICE_JOBS:-$(nproc 2>/dev/null || echo 2)}
tmo=${EVOLU_DEVICE_TIMEOUT:-150}
dev=build/device
host=build/device-host
logs=build/device-logs

echo "== device: dependencies"
scripts/deps.sh test
scripts/device-deps.sh build/device-src

echo "== device: cross build (arm-none-eabi, cortex-m33)"
cmake -S device -B "$dev" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/arm-none-eabi.cmake" \
  -DEVOLU_DEVICE_SRC="$root/build/device-src" >"$dev-configure.log" 2>&1 || {
  cat "$dev-configure.log"; exit 1; }
# -k: a test program that does not build is reported in the table; the libraries
# and the other programs still build and run.
build_ok=0
cmake --build "$dev" -j"$jobs" -- -k --no-print-directory >"$dev-build.log" 2>&1 || {
  grep -E "error|Error" "$dev-build.log" | head -40; echo "device: cross build FAILED"; build_ok=1; }
read -r -a tests <"$dev/device-tests.txt"
echo "host-only (not run on the device): $(cat "$dev/device-tests-host-only.txt")"

echo "== device: size report"
size_ok=0
cmake --build "$dev" --target size_report -- --no-print-directory >"$dev-size.log" 2>&1 ||
  size_ok=1
grep -vE '^\[|Built target|make(\[[0-9]+\])?:' "$dev-size.log" || true

echo "== device: host build of the same programs"
cmake -S . -B "$host" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVOLU_FUZZ=OFF \
  -DEVOLU_SANITIZE=OFF >"$host-configure.log" 2>&1 || { cat "$host-configure.log"; exit 1; }
cmake --build "$host" -j"$jobs" --target "${tests[@]}" -- --no-print-directory \
  >"$host-build.log" 2>&1 || { grep -E "error|Error" "$host-build.log" | head -40; exit 1; }

rm -rf "$logs"
mkdir -p "$logs"

# run_qemu NAME: one target program, stopped by its own PID after $tmo seconds.
run_qemu() {
  local t=$1 pid rc waited=0
  if [ ! -f "$dev/$t.elf" ]; then
    echo "not built (see $dev-build.log)" >"$logs/$t.device.log"
    echo 125 >"$logs/$t.device.rc"
    return
  fi
  qemu-system-arm -M mps2-an505 -nographic -monitor none \
    -semihosting-config enable=on,target=native -kernel "$dev/$t.elf" \
    >"$logs/$t.device.log" 2>&1 </dev/null &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge $((tmo * 5)) ]; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      echo 124 >"$logs/$t.device.rc"
      echo "TIMEOUT after ${tmo}s" >>"$logs/$t.device.log"
      return
    fi
    sleep 0.2
    waited=$((waited + 1))
  done
  rc=0
  wait "$pid" || rc=$?
  echo "$rc" >"$logs/$t.device.rc"
}

run_host() {
  local t=$1 rc=0
  (cd "$host/tests" && timeout "$tmo" "./$t") >"$logs/$t.host.log" 2>&1 || rc=$?
  echo "$rc" >"$logs/$t.host.rc"
}

echo "== device: running ${#tests[@]} programs on the host and under qemu-system-arm -M mps2-an505"
start=$(date +%s)
for t in "${tests[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 0.2; done
  run_host "$t" &
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 0.2; done
  run_qemu "$t" &
done
wait
echo "(ran in $(($(date +%s) - start)) s)"

# counts LOG -> "checked failed skipped" from the harness's closing line.
counts() {
  local line
  line=$(grep -E '^((VECTORS|CHECKS) )?[^ ]+: [0-9]+ checked, [0-9]+ failed' "$1" | tail -n1 || true)
  [ -n "$line" ] || { echo "- - -"; return; }
  local c f s
  c=$(sed -E 's/.*: ([0-9]+) checked.*/\1/' <<<"$line")
  f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
  s=$(sed -nE 's/.* ([0-9]+) skipped.*/\1/p' <<<"$line")
  echo "$c $f ${s:-0}"
}

fail=0
printf '%-30s %22s %22s %8s %s\n' program "host pass/checked/skip" "device pass/checked/skip" \
  "stack" verdict
for t in "${tests[@]}"; do
  read -r hc hf hs < <(counts "$logs/$t.host.log")
  read -r dc df ds < <(counts "$logs/$t.device.log")
  hrc=$(cat "$logs/$t.host.rc")
  drc=$(cat "$logs/$t.device.rc")
  stack=$(sed -nE 's/^DEVICE stack high-water: ([0-9]+) of.*/\1/p' "$logs/$t.device.log")
  verdict=ok
  if [ "$drc" -eq 125 ]; then verdict="NOT BUILT"
  elif [ "$hc" = - ] || [ "$dc" = - ]; then verdict="no counts"
  elif [ "$drc" -eq 125 ]; then verdict="NOT BUILT"
  elif [ "$drc" -eq 124 ]; then verdict="TIMEOUT"
  elif [ "$drc" -ge 99 ]; then verdict="FAULT (exit $drc)"
  elif [ "$hrc" -ne 0 ] || [ "$drc" -ne 0 ]; then verdict="FAILED (host $hrc, device $drc)"
  elif [ $((hc - hf)) -ne $((dc - df)) ] || [ "$hc" -ne "$dc" ] || [ "$hs" -ne "$ds" ]; then
    verdict="DIFFERENT COUNTS"
  fi
  hp=-; dp=-
  [ "$hc" = - ] || hp=$((hc - hf))
  [ "$dc" = - ] || dp=$((dc - df))
  printf '%-30s %22s %22s %8s %s\n' "$t" "$hp/$hc/$hs" "$dp/$dc/$ds" "${stack:-?}" "$verdict"
  if [ "$verdict" != ok ]; then
    fail=1
    echo "---- $t on the device (exit $drc):"
    grep -vE '^(s[0-9]|FPSCR)' "$logs/$t.device.log" | tail -n 15
  fi
done

# The stream store on the target: its tamper and power-loss counts and the
# memory of a sync round (test_stream_store, test_stream_memory).
echo "== device: stream store on the target"
for t in test_stream_store test_stream_memory; do
  [ -f "$logs/$t.device.log" ] &&
    grep -E '^(working set|tamper|power|memory|DEVICE memory):' "$logs/$t.device.log" || true
done

if [ "$build_ok" -ne 0 ]; then echo "device: cross build FAILED (see $dev-build.log)"; fail=1; fi
if [ "$size_ok" -ne 0 ]; then echo "device: size/stack budget check FAILED"; fail=1; fi
if [ "$fail" -ne 0 ]; then echo "device: FAILED"; exit 1; fi
echo "device: all ${#tests[@]} programs pass on the Cortex-M33 with the host's counts; budgets met"
