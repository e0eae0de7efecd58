# Shared helpers of the interop tests (sourced by tests/interop/test_*.sh,
# which CTest runs as `sh test_X.sh BUILD_DIR PATH_TO_evolu`).
#
# - sets up Node 24 and the published packages (scripts/interop-setup.sh,
#   cached); a failure there FAILS the test, it never skips,
# - every process is started in the background with a time bound and its PID
#   recorded; cleanup stops exactly those PIDs (never by name) and removes
#   the scratch folder,
# - relays bind 127.0.0.1 with port 0; tests read the URL from the
#   `listening on ws://127.0.0.1:PORT` line both relays print.
set -eu

BUILD_DIR=${1:?usage: sh test_X.sh BUILD_DIR PATH_TO_evolu}
EVOLU=${2:?usage: sh test_X.sh BUILD_DIR PATH_TO_evolu}
INTEROP_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$INTEROP_DIR/../.." && pwd)
TEST_NAME=$(basename "$0" .sh)
T0=$(date +%s)

log() { echo "[$TEST_NAME +$(($(date +%s) - T0))s] $*" >&2; }
fail() {
  echo "FAIL [$TEST_NAME]: $*" >&2
  exit 1
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/evolu-interop.XXXXXX")
PIDS=""
WATCHDOGS=""
cleanup() {
  rc=$?
  for p in $WATCHDOGS; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in $PIDS; do
    if kill -0 "$p" 2>/dev/null; then
      kill -TERM "$p" 2>/dev/null || true
    fi
  done
  for p in $PIDS; do
    n=0
    while kill -0 "$p" 2>/dev/null && [ $n -lt 50 ]; do
      sleep 0.1
      n=$((n + 1))
    done
    kill -KILL "$p" 2>/dev/null || true
  done
  if [ $rc -ne 0 ]; then
    for f in "$WORK"/*.err; do
      [ -f "$f" ] || continue
      echo "---- $(basename "$f") (last 30 lines)" >&2
      tail -30 "$f" >&2
    done
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Node 24 and the packages (cached after the first run).
sh "$ROOT/scripts/interop-setup.sh" >"$WORK/setup.log" 2>&1 || {
  cat "$WORK/setup.log" >&2
  fail "scripts/interop-setup.sh could not set up Node 24 and the Evolu packages"
}
. "${EVOLU_INTEROP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/evolu-c-interop}/env.sh"
[ -x "$NODE" ] || fail "no Node at $NODE"
[ -x "$EVOLU" ] || fail "no evolu program at $EVOLU"

# bg NAME SECONDS CMD...: start CMD in the background; stdout in
# $WORK/NAME.out, stderr in $WORK/NAME.err; its PID is in $BG_PID. A watchdog
# sends it SIGTERM after SECONDS (SIGKILL 5 s later), so nothing outlives the
# test even if it hangs.
bg() {
  name=$1
  secs=$2
  shift 2
  "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  BG_PID=$!
  PIDS="$PIDS $BG_PID"
  (
    exec >/dev/null 2>&1
    trap 'kill "$sp" 2>/dev/null; exit 0' TERM
    sleep "$secs" &
    sp=$!
    wait "$sp"
    kill -TERM "$BG_PID" 2>/dev/null || exit 0
    sleep 5
    kill -KILL "$BG_PID" 2>/dev/null
  ) &
  WATCHDOGS="$WATCHDOGS $!"
}

# stop PID: SIGTERM to one process we started, wait for it; returns its status.
stop() {
  kill -TERM "$1" 2>/dev/null || true
  st=0
  wait "$1" || st=$?
  return $st
}

# wait_listening NAME: wait (15 s) for NAME's `listening on` line; sets URL.
wait_listening() {
  n=0
  URL=""
  while [ $n -lt 150 ]; do
    URL=$(sed -n 's/^listening on \(ws:\/\/127\.0\.0\.1:[0-9][0-9]*\)$/\1/p' "$WORK/$1.out" 2>/dev/null | head -1)
    [ -n "$URL" ] && return 0
    sleep 0.1
    n=$((n + 1))
  done
  fail "$1 did not print 'listening on ws://127.0.0.1:PORT' within 15 s"
}

# ts_relay NAME [PORT]: the published TypeScript relay; sets URL and RELAY_PID.
ts_relay() {
  mkdir -p "$WORK/$1.d"
  bg "$1" 600 "$NODE" "$INTEROP_DIR/ts-relay.mjs" --port "${2:-0}" --dir "$WORK/$1.d"
  RELAY_PID=$BG_PID
  wait_listening "$1"
}

# c_relay NAME [PORT] [more flags]: `evolu relay`; sets URL and RELAY_PID.
c_relay() {
  name=$1
  port=${2:-0}
  shift
  [ $# -gt 0 ] && shift
  bg "$name" 600 "$EVOLU" relay --port "$port" --db "$WORK/$name.db" --log-level warn "$@"
  RELAY_PID=$BG_PID
  wait_listening "$name"
}

# ts VERSION DIR ARGS...: run the TypeScript app (ts-app.mjs) once, bounded.
ts() {
  v=$1
  d=$2
  shift 2
  timeout -k 5 150 "$NODE" "$INTEROP_DIR/ts-app.mjs" --version "$v" --db "$WORK/$d" "$@"
}

# c DB ARGS...: run `evolu -d DB ARGS...`, bounded.
c() {
  d=$1
  shift
  timeout -k 5 150 "$EVOLU" -d "$WORK/$d.sqlite" "$@"
}

# The SQL both sides print rows with (ts-app.mjs prints the same columns).
select_sql() {
  case $1 in
    todo) echo "select id, title, isCompleted, isDeleted from todo order by id" ;;
    item) echo "select id, t, n, b, v, isDeleted from item order by id" ;;
    *) fail "unknown table $1" ;;
  esac
}
SCHEMA_TODO="todo(title, isCompleted)"
SCHEMA_ITEM="item(t, n, b, v)"

# c_rows DB TABLE: the table's rows on the C side, as JSON lines.
c_rows() { c "$1" query "$(select_sql "$2")"; }

# same DESCRIPTION FILE_EXPECTED FILE_ACTUAL: exact comparison, diff on failure.
same() {
  if ! cmp -s "$2" "$3"; then
    echo "---- expected ($2) vs actual ($3):" >&2
    diff "$2" "$3" >&2 || true
    fail "$1"
  fi
}

# lines FILE: number of lines.
lines() { wc -l <"$1" | tr -d ' '; }

# sqlite FILE SQL: run SQL on a SQLite file with the better-sqlite3 the setup
# built (no sqlite3 shell needed); prints the first column of each row.
sqlite() {
  "$NODE" -e '
    const D = require(process.argv[1]);
    const db = new D(process.argv[2]);
    for (const s of process.argv[3].split(";").map((x) => x.trim()).filter(Boolean)) {
      const st = db.prepare(s);
      if (st.reader) for (const r of st.raw().all()) console.log(String(r[0]));
      else st.run();
    }
    db.close();' "$EVOLU_INTEROP_CACHE/next5/node_modules/better-sqlite3" "$1" "$2"
}
