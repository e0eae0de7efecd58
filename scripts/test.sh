#!/bin/sh
# Runs every test of evolu-c, from nothing, on Debian 12:
#   1. installs what is missing (scripts/deps.sh, scripts/device-deps.sh),
#   2. builds with gcc (-O2 -Werror) and runs the suite there, printing the
#      per-file vector counts,
#   3. cross-builds the core for a Cortex-M33 and runs the core's test programs
#      under QEMU (mps2-an505), comparing their counts with the host's, and
#      checks the device's flash/RAM budgets (scripts/device-test.sh),
#   4. builds with clang under AddressSanitizer + UndefinedBehaviorSanitizer with
#      the libFuzzer targets, and runs the suite again there - unit, vector and
#      system tests, the freestanding-core check and a short run of every fuzzer.
#      The interop tests (Node 24 and the published TypeScript packages, set up
#      by scripts/interop-setup.sh into a cache) run once, in the gcc build.
# The output ends with CTest's summary of that last run.
# Environment: EVOLU_FUZZ_SECONDS (default 10) - how long each fuzzer runs.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)
fuzz_secs=${EVOLU_FUZZ_SECONDS:-10}

scripts/deps.sh test
# The system tests run the firmware under QEMU (tests/scripts/test_firmware*.sh,
# test_e2e_device*.sh): the cross toolchain, QEMU and the device's libsodium
# sources must be there before the first ctest run, not only for step 3.
scripts/device-deps.sh build/device-src

echo "== gcc build (-O2, warnings are errors)"
cmake -S . -B build/gcc -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/gcc -j"$jobs" -- --no-print-directory >build/gcc-build.log 2>&1 || {
  cat build/gcc-build.log; exit 1; }
rm -f build/gcc/vector-counts/*.counts
ctest --test-dir build/gcc -j"$jobs" --output-on-failure >build/gcc-test.log 2>&1 || {
  cat build/gcc-test.log; exit 1; }
grep -E '^SKIP ' build/gcc/Testing/Temporary/LastTest.log | sort -u || true
build/gcc/tests/vectors_summary build/gcc/vector-counts
# the firmware's size and peak RAM against the device budgets (test_firmware
# fails when over them; its lines are printed here either way)
grep -E '^firmware (flash|peak RAM|under QEMU)' build/gcc/Testing/Temporary/LastTest.log || true
grep 'tests passed' build/gcc-test.log

echo "== device: Cortex-M33 cross build, size budgets, core tests under QEMU"
scripts/device-test.sh

echo "== clang build with ASan + UBSan and libFuzzer (fuzzing ${fuzz_secs}s per target)"
cmake -S . -B build/asan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
  -DEVOLU_SANITIZE=ON -DEVOLU_FUZZ=ON -DEVOLU_FUZZ_SECONDS="$fuzz_secs" >/dev/null
cmake --build build/asan -j"$jobs" -- --no-print-directory >build/asan-build.log 2>&1 || {
  cat build/asan-build.log; exit 1; }
rm -f build/asan/vector-counts/*.counts
cd "$root"
ctest --test-dir build/asan -j"$jobs" --output-on-failure -LE interop
