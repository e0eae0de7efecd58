# The published TypeScript relay is stopped and restarted (same port, same
# database) mid-session: `evolu sync` says the relay is unreachable while it
# is away; `evolu watch` reconnects by itself and shows what a TypeScript app
# wrote while it was away; both sides converge to identical rows, including
# what the C client wrote while the relay was down.
. "$(dirname "$0")/lib.sh"
ts_relay relay
port=${URL##*:}

ts next5 app --relay "$URL" insert todo '{"title":"before","isCompleted":false}' sync >/dev/null \
  || fail "the app could not write and sync"
c cdb owner restore "$(cat "$WORK/app/mnemonic")" >/dev/null || fail "evolu owner restore"
c cdb schema "$SCHEMA_TODO" || fail "evolu schema"
c cdb sync "$URL" || fail "evolu sync"

bg watch 120 "$EVOLU" -d "$WORK/cdb.sqlite" watch "$URL" --timeout 110
watch=$BG_PID
n=0
until grep -q "watching" "$WORK/watch.err" 2>/dev/null; do
  n=$((n + 1))
  [ $n -lt 300 ] || fail "evolu watch did not subscribe"
  kill -0 $watch 2>/dev/null || fail "evolu watch exited"
  sleep 0.1
done

stop "$RELAY_PID" || fail "the relay did not exit 0"
log "relay stopped"
st=0
c cdb sync "$URL" --timeout 10 2>"$WORK/down.err" || st=$?
[ $st = 1 ] || fail "evolu sync with the relay down exited $st, expected 1"
cat "$WORK/down.err" >&2
# Written while the relay is away: by the app (offline) and by the C client.
tid=$(ts next5 app insert todo '{"title":"app, relay away","isCompleted":true}') || fail "app insert"
cid=$(c cdb insert todo '{"title":"C, relay away","isCompleted":null}') || fail "evolu insert"
kill -0 $watch 2>/dev/null || fail "evolu watch exited when the relay went away"

ts_relay relay "$port"
[ "$URL" = "ws://127.0.0.1:$port" ] || fail "the relay came back on another port"
log "relay restarted on port $port"
ts next5 app --relay "$URL" sync >/dev/null || fail "the app could not sync after the restart"
n=0
until grep -qF "{\"table\":\"todo\",\"id\":\"$tid\",\"column\":\"title\",\"value\":\"app, relay away\"}" "$WORK/watch.out" 2>/dev/null; do
  n=$((n + 1))
  [ $n -lt 600 ] || fail "evolu watch did not reconnect and show the app's change within 60 s"
  kill -0 $watch 2>/dev/null || fail "evolu watch exited"
  sleep 0.1
done
log "evolu watch reconnected and showed the app's change"
stop $watch || fail "evolu watch did not exit 0 on SIGTERM"

c cdb sync "$URL" || fail "evolu sync after the restart"
ts next5 app --relay "$URL" sync rows todo >"$WORK/ts.rows" || fail "the app could not sync"
c_rows cdb todo >"$WORK/c.rows"
[ "$(lines "$WORK/c.rows")" = 3 ] || fail "the C client has $(lines "$WORK/c.rows") rows, expected 3"
grep -qF "\"id\":\"$cid\"" "$WORK/ts.rows" || fail "the app does not have the C client's row"
same "after the restart both sides have identical rows" "$WORK/ts.rows" "$WORK/c.rows"
stop "$RELAY_PID" || fail "the relay did not exit 0"
