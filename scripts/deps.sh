#!/bin/sh
# Installs the Debian 12 packages evolu-c needs, if any are missing.
# usage: scripts/deps.sh [build|test|all]   (default: test)
#   build: compilers, CMake and the libraries the library and the demo link
#   test:  build + clang's fuzzer runtime, cJSON for the vector tests and npm
#          (which bootstraps Node 24 for the interop tests)
set -eu
what=${1:-test}

pkgs="build-essential cmake pkg-config libsodium-dev libsqlite3-dev libwebsockets-dev python3-mnemonic"
case "$what" in
  build) ;;
  test|all) pkgs="$pkgs clang libclang-rt-14-dev libcjson-dev" ;;
  *) echo "usage: $0 [build|test|all]" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
# The interop tests need npm (it fetches Node 24 and the published Evolu
# packages); Debian's npm is enough to bootstrap that.
if [ "$what" != build ] && ! command -v npm >/dev/null 2>&1; then
  missing="$missing npm"
fi
[ -z "$missing" ] && exit 0

echo "Installing:$missing"
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
