#!/bin/sh
# The main job of evolu-c. Until the relay and the sync client land, it builds
# the `evolu` command and runs its self-check: derive an owner from a mnemonic,
# encrypt a change the way the TypeScript client does, decrypt it back, and
# print every step.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVOLU_TESTS=OFF >/dev/null
cmake --build build/demo -j"$(nproc 2>/dev/null || echo 2)" -- --no-print-directory >/dev/null
exec build/demo/evolu selfcheck "$@"
