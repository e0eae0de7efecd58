# Live: processes on the same owner see each other's changes through the
# relay's Broadcast, without a new sync, through the published TypeScript
# relay:
#   - `evolu watch` (C) prints a change a next5 app made, as it arrives;
#   - a subscribed 8.11.0 app shows a row the C client pushed.
. "$(dirname "$0")/lib.sh"
ts_relay relay

ts next5 app --relay "$URL" insert todo '{"title":"first","isCompleted":false}' sync >/dev/null \
  || fail "the next5 app could not write and sync"
mnemonic=$(cat "$WORK/app/mnemonic")
c cdb owner restore "$mnemonic" >/dev/null || fail "evolu owner restore"
c cdb schema "$SCHEMA_TODO" || fail "evolu schema"
c cdb sync "$URL" || fail "evolu sync"

# wait_for FILE PATTERN PID WHAT: wait (30 s) until FILE has a line matching
# the fixed string PATTERN, while PID runs.
wait_for() {
  n=0
  until grep -qF -- "$2" "$1" 2>/dev/null; do
    n=$((n + 1))
    [ $n -lt 300 ] || fail "$4 (no '$2' in $(basename "$1") within 30 s)"
    kill -0 "$3" 2>/dev/null || fail "$4 (the process exited early)"
    sleep 0.1
  done
}

bg watch 90 "$EVOLU" -d "$WORK/cdb.sqlite" watch "$URL" --timeout 80
watch=$BG_PID
wait_for "$WORK/watch.err" "watching $(c cdb owner show)" $watch "evolu watch did not subscribe"

bg live11 90 "$NODE" "$INTEROP_DIR/ts-app.mjs" --version v11 --db "$WORK/app11" --mnemonic "$mnemonic" \
  --relay "$URL" --timeout 80 sync echo subscribed wait-rows todo 3 60 rows todo
live11=$BG_PID
wait_for "$WORK/live11.out" subscribed $live11 "the 8.11.0 app did not finish its first sync"

# TypeScript -> C, live.
id=$(ts next5 app --relay "$URL" insert todo '{"title":"live from TypeScript ✓","isCompleted":true}' sync) \
  || fail "the next5 app could not write and sync"
wait_for "$WORK/watch.out" "{\"table\":\"todo\",\"id\":\"$id\",\"column\":\"title\",\"value\":\"live from TypeScript ✓\"}" \
  $watch "evolu watch did not print the app's change"
wait_for "$WORK/watch.out" "{\"table\":\"todo\",\"id\":\"$id\",\"column\":\"isCompleted\",\"value\":1}" \
  $watch "evolu watch did not print the app's change"
log "evolu watch printed the next5 app's change live"

# C -> TypeScript, live.
c cdb2 owner restore "$mnemonic" >/dev/null || fail "evolu owner restore (second C client)"
c cdb2 schema "$SCHEMA_TODO" || fail "evolu schema"
cid=$(c cdb2 insert todo '{"title":"live from C","isCompleted":null}') || fail "evolu insert"
c cdb2 sync "$URL" || fail "evolu sync of the C client's row"
wait "$live11" || fail "the subscribed 8.11.0 app did not show the C client's row"
grep -qF "{\"id\":\"$cid\",\"title\":\"live from C\",\"isCompleted\":null,\"isDeleted\":null}" "$WORK/live11.out" \
  || fail "the 8.11.0 app shows a different row: $(cat "$WORK/live11.out")"
wait_for "$WORK/watch.out" "{\"table\":\"todo\",\"id\":\"$cid\",\"column\":\"title\",\"value\":\"live from C\"}" \
  $watch "evolu watch did not print the other C client's change"
log "the subscribed 8.11.0 app and evolu watch showed the C client's row live"

stop $watch || fail "evolu watch did not exit 0 on SIGTERM"
ts next5 app --relay "$URL" sync rows todo >"$WORK/ts.rows" || fail "the app could not sync"
c_rows cdb todo >"$WORK/c.rows"
[ "$(lines "$WORK/c.rows")" = 3 ] || fail "the watching C client has $(lines "$WORK/c.rows") rows, expected 3"
same "the watching C client and the app have identical rows" "$WORK/ts.rows" "$WORK/c.rows"
stop "$RELAY_PID" || fail "the relay did not exit 0"
