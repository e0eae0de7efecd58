# The walkthrough of docs/interop.md ("Restore a TypeScript-created owner"),
# step by step: a published 8.11.0 app creates an owner and writes todos
# through the published TypeScript relay; the C client restores the app's
# 24-word mnemonic, syncs, and `evolu query` shows the app's rows - the exact
# text the walkthrough shows.
. "$(dirname "$0")/lib.sh"
ts_relay relay

ts v11 app --relay "$URL" \
  insert todo '{"title":"Buy milk","isCompleted":false}' \
  insert todo '{"title":"Walk the dog","isCompleted":true}' \
  sync mnemonic >"$WORK/app.out" || fail "the app could not create an owner and sync"
words=$(tail -1 "$WORK/app.out")
[ "$(echo "$words" | wc -w | tr -d ' ')" = 24 ] || fail "the app did not print a 24-word mnemonic: $words"

"$EVOLU" -d "$WORK/my.db" owner restore "$words" || fail "evolu owner restore"
"$EVOLU" -d "$WORK/my.db" schema "todo(title, isCompleted)" || fail "evolu schema"
"$EVOLU" -d "$WORK/my.db" sync "$URL" || fail "evolu sync"
"$EVOLU" -d "$WORK/my.db" query "select title, isCompleted from todo order by title" >"$WORK/query.out" \
  || fail "evolu query"
cat >"$WORK/expected.out" <<'ROWS'
{"title":"Buy milk","isCompleted":0}
{"title":"Walk the dog","isCompleted":1}
ROWS
same "evolu query shows the TypeScript app's rows" "$WORK/expected.out" "$WORK/query.out"
[ "$("$EVOLU" -d "$WORK/my.db" owner show)" = "$(ts v11 app owner-id)" ] \
  || fail "the restored owner id differs from the app's"
log "restored the app's mnemonic; evolu query shows its rows"
stop "$RELAY_PID" || fail "the relay did not exit 0"
