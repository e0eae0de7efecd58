#!/bin/sh
# The main job of evolu-c, end to end on this machine (no Node needed):
#   1. builds the `evolu` command,
#   2. starts a relay (`evolu relay`) on 127.0.0.1 with its own SQLite file,
#   3. makes two clients, "laptop" and "phone", of one owner: the laptop
#      creates the owner (a 24-word mnemonic), the phone restores it,
#   4. both write todos offline, then sync through the relay; the phone
#      watches live while the laptop edits and deletes,
#   5. prints both clients' rows side by side, shows that they are identical,
#      and stops the relay.
# Everything happens in a temporary folder that is removed at the end; pass
# --keep to keep it (the databases are plain SQLite files: open them with any
# SQLite tool). EVOLU=/path/to/evolu skips the build and uses that program
# (the test suite runs the demo this way).
set -eu
cd "$(dirname "$0")/.."
keep=0
for a in "$@"; do
  case "$a" in
    --keep) keep=1 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown option '$a' (try --help)" >&2; exit 2 ;;
  esac
done

if [ -n "${EVOLU:-}" ]; then
  evolu=$EVOLU
else
  scripts/deps.sh build
  echo "== building evolu"
  cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVOLU_TESTS=OFF >/dev/null
  cmake --build build/demo -j"$(nproc 2>/dev/null || echo 2)" -- --no-print-directory >/dev/null
  evolu=$(pwd)/build/demo/evolu
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/evolu-demo.XXXXXX")
relay_pid=""
watch_pid=""
cleanup() {
  for p in $watch_pid $relay_pid; do kill "$p" 2>/dev/null || true; done
  for p in $watch_pid $relay_pid; do wait "$p" 2>/dev/null || true; done
  if [ "$keep" = 1 ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

step() { printf '\n== %s\n' "$*"; }
# show CMD...: print the command as a user would type it, then run it.
show() {
  line="$"
  for a in "$@"; do
    case "$a" in
      "$evolu") a=evolu ;;
      "$work"/*) a=${a#"$work"/} ;;
      *[!A-Za-z0-9_./:=-]*) a="'$a'" ;;
    esac
    line="$line $a"
  done
  echo "$line"
  "$@"
}

step "a relay on 127.0.0.1 (port chosen by the system), stopped after 120 s at the latest"
timeout 120 "$evolu" relay --port 0 --db "$work/relay.db" >"$work/relay.out" 2>"$work/relay.log" &
relay_pid=$!
i=0
until grep -q '^listening on ' "$work/relay.out" 2>/dev/null; do
  i=$((i + 1))
  if [ $i -gt 100 ] || ! kill -0 "$relay_pid" 2>/dev/null; then
    echo "the relay did not start:" >&2; cat "$work/relay.log" >&2; exit 1
  fi
  sleep 0.1
done
cat "$work/relay.out"
base=$(sed -n 's/^listening on //p' "$work/relay.out" | head -n 1)

laptop="$work/laptop.db"
phone="$work/phone.db"

step "the laptop creates an owner; the phone restores it from the mnemonic"
mnemonic=$("$evolu" -d "$laptop" owner new)
echo "mnemonic: $mnemonic"
show "$evolu" -d "$phone" owner restore "$mnemonic"
owner=$("$evolu" -d "$laptop" owner show)
echo "owner id: $owner (same on both: $("$evolu" -d "$phone" owner show))"
url="$base?ownerId=$owner"

step "both declare the app's table and write while offline"
show "$evolu" -d "$laptop" schema "todo(title, isCompleted)"
show "$evolu" -d "$phone" schema "todo(title, isCompleted)"
echo "\$ evolu -d laptop.db insert todo '{\"title\":\"Buy milk\",\"isCompleted\":false}'"
milk=$("$evolu" -d "$laptop" insert todo '{"title":"Buy milk","isCompleted":false}')
echo "$milk"
show "$evolu" -d "$laptop" insert todo '{"title":"Write the report","isCompleted":false}'
show "$evolu" -d "$phone" insert todo '{"title":"Call Ana 📞","isCompleted":true}'

step "sync: laptop, then phone (each until converged)"
show "$evolu" -d "$laptop" sync "$url"
show "$evolu" -d "$phone" sync "$url"
show "$evolu" -d "$laptop" sync "$url"

step "the phone watches live; the laptop edits and deletes"
timeout 60 "$evolu" -d "$phone" watch "$url" >"$work/watch.out" 2>"$work/watch.log" &
watch_pid=$!
i=0
until grep -q '^watching ' "$work/watch.log" 2>/dev/null; do
  i=$((i + 1))
  if [ $i -gt 100 ]; then echo "watch did not subscribe:" >&2; cat "$work/watch.log" >&2; exit 1; fi
  sleep 0.1
done
show "$evolu" -d "$laptop" update todo "$milk" '{"isCompleted":true}'
written=$("$evolu" -d "$laptop" query "select id from todo where title = 'Write the report'" |
  sed 's/.*"id":"\([^"]*\)".*/\1/')
show "$evolu" -d "$laptop" delete todo "$written"
show "$evolu" -d "$laptop" sync "$url"
i=0
until [ "$(grep -c '"column":"isDeleted"' "$work/watch.out" 2>/dev/null)" -ge 1 ]; do
  i=$((i + 1))
  if [ $i -gt 100 ]; then echo "(no live change seen within 10 s)" >&2; break; fi
  sleep 0.1
done
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
watch_pid=""
echo "what the phone's watch printed as the changes arrived:"
sed 's/^/  /' "$work/watch.out"

step "both clients' rows, side by side"
q="select title, isCompleted, isDeleted from todo order by createdAt, id"
"$evolu" -d "$laptop" query "$q" >"$work/laptop.rows"
"$evolu" -d "$phone" query "$q" >"$work/phone.rows"
printf '%-58s | %s\n' "laptop" "phone"
paste -d '|' "$work/laptop.rows" "$work/phone.rows" |
  awk -F'|' '{ printf "%-58s | %s\n", $1, $2 }'
if cmp -s "$work/laptop.rows" "$work/phone.rows"; then
  echo "converged: the laptop and the phone hold identical rows"
else
  echo "NOT converged" >&2; exit 1
fi

step "stopping the relay"
kill "$relay_pid"
wait "$relay_pid" || true
relay_pid=""
tail -n 2 "$work/relay.log"
