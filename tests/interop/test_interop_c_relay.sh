# Through the C relay (`evolu relay --port 0 --db FILE`): published TypeScript
# apps (next5 and 8.11.0) and the C client converge.
#   1. a next5 app writes values of every kind; the C client reads identical
#      rows, and the C client's writes reach the next5 and 8.11.0 apps;
#   2. offline edits of the same rows and columns on the app and the C client,
#      with a delete, converge to the last writer's values everywhere;
#   3. live: a subscribed next5 app shows a row the C client pushed, and
#      `evolu watch` shows a row the 8.11.0 app pushed, without a new sync;
#   4. bulk: a next5 app pushes 5,000 rows (> 1 MB) of a new owner through the
#      C relay; an 8.11.0 app and the C client pull identical rows.
. "$(dirname "$0")/lib.sh"
VALUES="$INTEROP_DIR/values.jsonl"
nvalues=$(lines "$VALUES")
c_relay relay

# 1.
set --
while IFS= read -r v; do set -- "$@" insert item "$v"; done <"$VALUES"
ts next5 app --relay "$URL" "$@" insert todo '{"title":"r1","isCompleted":false}' \
  insert todo '{"title":"r2","isCompleted":false}' sync >"$WORK/ids" || fail "the next5 app could not write and sync"
r1=$(sed -n "$((nvalues + 1))p" "$WORK/ids")
r2=$(sed -n "$((nvalues + 2))p" "$WORK/ids")
mnemonic=$(cat "$WORK/app/mnemonic")
c cdb owner restore "$mnemonic" >/dev/null || fail "evolu owner restore"
c cdb schema "$SCHEMA_TODO" "$SCHEMA_ITEM" || fail "evolu schema"
c cdb sync "$URL" || fail "evolu sync through the C relay"
ts next5 app rows item rows todo >"$WORK/ts.rows"
{ c_rows cdb item && c_rows cdb todo; } >"$WORK/c.rows"
same "the C client reads the app's rows through the C relay" "$WORK/ts.rows" "$WORK/c.rows"
while IFS= read -r v; do
  c cdb insert item "$v" >/dev/null || fail "evolu insert $v"
done <"$VALUES"
c cdb sync "$URL" || fail "evolu sync through the C relay"
{ c_rows cdb item && c_rows cdb todo; } >"$WORK/c.rows"
ts next5 app --relay "$URL" sync rows item rows todo >"$WORK/ts.rows" || fail "the next5 app could not sync"
same "the next5 app reads the C client's rows through the C relay" "$WORK/c.rows" "$WORK/ts.rows"
ts v11 app11 --mnemonic "$mnemonic" --relay "$URL" sync rows item rows todo >"$WORK/v11.rows" \
  || fail "the 8.11.0 app could not sync"
same "the 8.11.0 app reads the same rows through the C relay" "$WORK/c.rows" "$WORK/v11.rows"
log "values of every kind, both ways: $(lines "$WORK/c.rows") identical rows"

# 2.
ts next5 app update todo "$r1" '{"title":"ts-1"}' update todo "$r2" '{"title":"ts-2"}' >/dev/null || fail "app edit"
sleep 0.05
c cdb update todo "$r1" '{"title":"c-1"}' || fail "C edit"
c cdb delete todo "$r2" || fail "C delete"
sleep 0.05
ts next5 app update todo "$r2" '{"isCompleted":true}' >/dev/null || fail "app edit 2"
c cdb sync "$URL" || fail "evolu sync after the edits"
ts next5 app --relay "$URL" sync rows todo >"$WORK/ts.rows" || fail "the app could not sync"
c cdb sync "$URL" || fail "evolu sync, second round"
ts v11 app11 --relay "$URL" sync rows todo >"$WORK/v11.rows" || fail "the 8.11.0 app could not sync"
c_rows cdb todo >"$WORK/c.rows"
{
  echo "{\"id\":\"$r1\",\"title\":\"c-1\",\"isCompleted\":0,\"isDeleted\":null}"
  echo "{\"id\":\"$r2\",\"title\":\"ts-2\",\"isCompleted\":1,\"isDeleted\":1}"
} | LC_ALL=C sort >"$WORK/expected.rows"
same "the C client converged (C relay)" "$WORK/expected.rows" "$WORK/c.rows"
same "the next5 app converged (C relay)" "$WORK/expected.rows" "$WORK/ts.rows"
same "the 8.11.0 app converged (C relay)" "$WORK/expected.rows" "$WORK/v11.rows"
log "concurrent edits and a delete converged on all three"

# 3.
bg live 90 "$NODE" "$INTEROP_DIR/ts-app.mjs" --version next5 --db "$WORK/app" --relay "$URL" \
  --timeout 80 sync echo subscribed wait-rows todo 3 60 rows todo
live=$BG_PID
bg watch 90 "$EVOLU" -d "$WORK/cdb.sqlite" watch "$URL" --timeout 80
watch=$BG_PID
n=0
until grep -q '^subscribed$' "$WORK/live.out" 2>/dev/null && grep -q watching "$WORK/watch.err" 2>/dev/null; do
  n=$((n + 1))
  [ $n -lt 300 ] || fail "the app or evolu watch did not subscribe"
  kill -0 $live 2>/dev/null || fail "the subscribed app exited early"
  kill -0 $watch 2>/dev/null || fail "evolu watch exited early"
  sleep 0.1
done
c cdb2 owner restore "$mnemonic" >/dev/null || fail "evolu owner restore"
c cdb2 schema "$SCHEMA_TODO" || fail "evolu schema"
cid=$(c cdb2 insert todo '{"title":"live from C","isCompleted":null}') || fail "evolu insert"
c cdb2 sync "$URL" || fail "evolu sync"
wait $live || fail "the subscribed next5 app did not show the C client's row"
grep -qF "{\"id\":\"$cid\",\"title\":\"live from C\",\"isCompleted\":null,\"isDeleted\":null}" "$WORK/live.out" \
  || fail "the subscribed app shows another row: $(cat "$WORK/live.out")"
tid=$(ts v11 app11 --relay "$URL" insert todo '{"title":"live from 8.11.0","isCompleted":false}' sync) \
  || fail "the 8.11.0 app could not write"
n=0
until grep -qF "{\"table\":\"todo\",\"id\":\"$tid\",\"column\":\"title\",\"value\":\"live from 8.11.0\"}" "$WORK/watch.out"; do
  n=$((n + 1))
  [ $n -lt 300 ] || fail "evolu watch did not show the 8.11.0 app's row"
  sleep 0.1
done
stop $watch || fail "evolu watch did not exit 0"
log "live Broadcasts through the C relay reached the next5 app and evolu watch"

# 4.
N=${EVOLU_INTEROP_BULK:-5000}
pad=$(printf '%0200d' 0)
t=$(date +%s)
ts next5 bulk --relay "$URL" --timeout 120 bulk todo "$N" "ts-$pad-" sync >/dev/null \
  || fail "the next5 app could not push $N rows through the C relay"
ts next5 bulk rows todo >"$WORK/ts.rows"
log "next5 app pushed $N rows ($(wc -c <"$WORK/ts.rows" | tr -d ' ') bytes as JSON) in $(($(date +%s) - t)) s"
[ "$(lines "$WORK/ts.rows")" = "$N" ] || fail "the app has $(lines "$WORK/ts.rows") rows"
mnemonic=$(cat "$WORK/bulk/mnemonic")
ts v11 bulk11 --mnemonic "$mnemonic" --relay "$URL" --timeout 120 sync rows todo >"$WORK/v11.rows" \
  || fail "the 8.11.0 app could not pull $N rows through the C relay"
same "the 8.11.0 app pulled the next5 app's $N rows through the C relay" "$WORK/ts.rows" "$WORK/v11.rows"
c cbulk owner restore "$mnemonic" >/dev/null || fail "evolu owner restore"
c cbulk schema "$SCHEMA_TODO" || fail "evolu schema"
c cbulk sync "$URL" --timeout 120 || fail "evolu sync of $N rows through the C relay"
c_rows cbulk todo >"$WORK/c.rows"
same "the C client pulled the next5 app's $N rows through the C relay" "$WORK/ts.rows" "$WORK/c.rows"
log "bulk through the C relay: $N identical rows on next5, 8.11.0 and C"
stop "$RELAY_PID" || fail "evolu relay did not exit 0 on SIGTERM"
