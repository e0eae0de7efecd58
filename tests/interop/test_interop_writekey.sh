# A wrong write key: the published TypeScript relay holds another write key
# for the owner than the C client's (we change the relay's stored key while
# it is stopped). `evolu sync` then fails with a typed error that says so
# (exit 1) and the C client's local change is kept; once the relay has the
# right key again, the same change goes out and a TypeScript app sees it.
. "$(dirname "$0")/lib.sh"
ts_relay relay
rdb="$WORK/relay.d/evolu-relay.db"

ts next5 app --relay "$URL" insert todo '{"title":"before","isCompleted":false}' sync >/dev/null \
  || fail "the app could not write and sync"
c cdb owner restore "$(cat "$WORK/app/mnemonic")" >/dev/null || fail "evolu owner restore"
c cdb schema "$SCHEMA_TODO" || fail "evolu schema"
c cdb sync "$URL" || fail "evolu sync"

stop "$RELAY_PID" || fail "the relay did not exit 0"
key=$(sqlite "$rdb" "select hex(writeKey) from evolu_writeKey")
[ -n "$key" ] || fail "the relay stored no write key"
[ "$(sqlite "$rdb" "update evolu_writeKey set writeKey = randomblob(16); select changes()")" = 1 ] \
  || fail "could not change the relay's write key"
ts_relay relay

id=$(c cdb insert todo '{"title":"written with a wrong key","isCompleted":true}') || fail "evolu insert"
st=0
c cdb sync "$URL" --timeout 30 2>"$WORK/sync.err" || st=$?
cat "$WORK/sync.err" >&2
[ $st = 1 ] || fail "evolu sync with a wrong write key exited $st, expected 1"
grep -qi "write key" "$WORK/sync.err" || fail "evolu sync did not say the write key was refused"
c_rows cdb todo >"$WORK/c.rows"
grep -qF "{\"id\":\"$id\",\"title\":\"written with a wrong key\",\"isCompleted\":1,\"isDeleted\":null}" "$WORK/c.rows" \
  || fail "the C client lost its local change after the refused write"
ts next5 app --relay "$URL" sync rows todo >"$WORK/ts.rows" || fail "the app could not sync"
[ "$(lines "$WORK/ts.rows")" = 1 ] || fail "the relay stored a write with a wrong key"
log "wrong write key: typed error, local change kept, relay stored nothing"

stop "$RELAY_PID" || fail "the relay did not exit 0"
sqlite "$rdb" "update evolu_writeKey set writeKey = X'$key'" || fail "could not restore the write key"
ts_relay relay
c cdb sync "$URL" || fail "evolu sync with the right write key again"
ts next5 app --relay "$URL" sync rows todo >"$WORK/ts.rows" || fail "the app could not sync"
same "the kept change reached the app once the key was right" "$WORK/c.rows" "$WORK/ts.rows"
stop "$RELAY_PID" || fail "the relay did not exit 0"
