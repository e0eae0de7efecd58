#!/bin/sh
# test_e2e_device_ts_relay.sh - issue 7, item 4 through the published
# TypeScript relay instead of ours: test_e2e_device.sh with its `ts` variant
# (firmware in QEMU <-> evolu proxy <-> tests/interop/ts-relay.mjs <-> an
# 8.11.0 TypeScript app and a C client, with the relay outage and a kill -9
# of the proxy).
# usage: sh test_e2e_device_ts_relay.sh BUILD_DIR PATH_TO_evolu
exec sh "$(dirname "$0")/test_e2e_device.sh" "${1:?usage: BUILD_DIR EVOLU}" "${2:?usage: BUILD_DIR EVOLU}" ts
