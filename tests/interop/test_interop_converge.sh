# Concurrent edits of the same rows and columns by a published 8.11.0 app and
# the C client, both offline, converge through the published TypeScript relay
# to the same values on both sides - the last writer by timestamp wins per
# column - deletes included. Also: the 8.11.0 client and the C client sync
# through the relay both ways.
. "$(dirname "$0")/lib.sh"
ts_relay relay

# Common start: three rows written by the app, read by the C client.
ts v11 app --relay "$URL" insert todo '{"title":"a1","isCompleted":false}' \
  insert todo '{"title":"a2","isCompleted":false}' insert todo '{"title":"a3","isCompleted":false}' \
  sync >"$WORK/ids" || fail "the 8.11.0 app could not write and sync"
r1=$(sed -n 1p "$WORK/ids")
r2=$(sed -n 2p "$WORK/ids")
r3=$(sed -n 3p "$WORK/ids")
c cdb owner restore "$(cat "$WORK/app/mnemonic")" >/dev/null || fail "evolu owner restore"
c cdb schema "$SCHEMA_TODO" || fail "evolu schema"
c cdb sync "$URL" || fail "evolu sync"
ts v11 app rows todo >"$WORK/ts.rows"
c_rows cdb todo >"$WORK/c.rows"
same "the C client starts with the app's rows" "$WORK/ts.rows" "$WORK/c.rows"

# Offline edits, alternating sides; each step is later than the one before
# (separate processes, the same clock, a pause between).
step() { sleep 0.05; }
ts v11 app update todo "$r1" '{"title":"ts-1"}' update todo "$r2" '{"isCompleted":true}' >/dev/null || fail "app edit 1"
step
c cdb update todo "$r1" '{"title":"c-1"}' || fail "C edit 1"
c cdb update todo "$r2" '{"title":"c-2"}' || fail "C edit 2"
c cdb delete todo "$r3" || fail "C delete"
step
ts v11 app update todo "$r2" '{"title":"ts-2"}' update todo "$r3" '{"title":"ts-3"}' \
  insert todo '{"title":"ts-4","isCompleted":null}' >"$WORK/id4" || fail "app edit 2"
r4=$(cat "$WORK/id4")
step
c cdb update todo "$r2" '{"isCompleted":false}' || fail "C edit 3"
c cdb insert todo '{"title":"c-5","isCompleted":true}' >"$WORK/id5" || fail "C insert"
r5=$(cat "$WORK/id5")

# Sync: C, the app, C again (the app's changes reach C on the second round).
c cdb sync "$URL" || fail "evolu sync after the edits"
ts v11 app --relay "$URL" sync rows todo >"$WORK/ts.rows" || fail "the app could not sync"
c cdb sync "$URL" || fail "evolu sync, second round"
c_rows cdb todo >"$WORK/c.rows"

{
  echo "{\"id\":\"$r1\",\"title\":\"c-1\",\"isCompleted\":0,\"isDeleted\":null}"
  echo "{\"id\":\"$r2\",\"title\":\"ts-2\",\"isCompleted\":0,\"isDeleted\":null}"
  echo "{\"id\":\"$r3\",\"title\":\"ts-3\",\"isCompleted\":0,\"isDeleted\":1}"
  echo "{\"id\":\"$r4\",\"title\":\"ts-4\",\"isCompleted\":null,\"isDeleted\":null}"
  echo "{\"id\":\"$r5\",\"title\":\"c-5\",\"isCompleted\":1,\"isDeleted\":null}"
} | LC_ALL=C sort >"$WORK/expected.rows"
same "the C client converged to the last writer's values" "$WORK/expected.rows" "$WORK/c.rows"
same "the 8.11.0 app converged to the last writer's values" "$WORK/expected.rows" "$WORK/ts.rows"
log "converged: $(lines "$WORK/c.rows") rows, identical on both sides"
stop "$RELAY_PID" || fail "the relay did not exit 0"
