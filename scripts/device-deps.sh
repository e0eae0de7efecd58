#!/bin/sh
# Installs the Cortex-M33 cross toolchain and QEMU (Debian 12 packages), if
# missing, and fetches + unpacks the Debian SOURCE packages whose C sources the
# device build compiles for the target (libsodium 1.0.18 and cJSON), into a cache
# directory under build/ (never committed). Idempotent: a second run does nothing.
# usage: scripts/device-deps.sh [SRC_CACHE_DIR]   (default: build/device-src)
# Prints nothing on success when everything is already there.
set -eu
cd "$(dirname "$0")/.."
cache=${1:-build/device-src}

if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

pkgs="gcc-arm-none-eabi binutils-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
      dpkg-dev cmake python3-mnemonic"
missing=""
for p in $pkgs; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
if [ -n "$missing" ]; then
  echo "device-deps: installing$missing"
  $sudo apt-get update -qq
  # shellcheck disable=SC2086
  $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# --- Debian source packages --------------------------------------------------
# Each is unpacked into $cache/<name>/ (a stable path, whatever the exact Debian
# revision); a stamp file marks a complete unpack.
need_src=""
for s in libsodium cjson; do
  [ -f "$cache/$s/.unpacked" ] || need_src="$need_src $s"
done
[ -z "$need_src" ] && exit 0

mkdir -p "$cache"
list=/etc/apt/sources.list.d/evolu-device-src.sources
cleanup() {
  if [ -f "$list" ]; then
    $sudo rm -f "$list"
    $sudo apt-get update -qq || true
  fi
}
trap cleanup EXIT INT TERM
$sudo sh -c "cat > '$list'" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
$sudo apt-get update -qq
for s in $need_src; do
  dl="$cache/download-$s"
  rm -rf "$dl" "$cache/$s"
  mkdir -p "$dl"
  (cd "$dl" && apt-get -o APT::Sandbox::User=root source --download-only "$s" >/dev/null)
  dsc=$(ls "$dl"/*.dsc | head -n1)
  dpkg-source --no-check -x "$dsc" "$cache/$s" >/dev/null
  rm -rf "$dl"
  touch "$cache/$s/.unpacked"
  echo "device-deps: unpacked $s into $cache/$s"
done
