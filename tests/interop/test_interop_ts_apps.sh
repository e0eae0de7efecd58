# Two published TypeScript apps on the same owner - one on @evolu/common
# 8.0.0-next.5, one on 8.11.0 - sync through a relay and see each other's
# rows, and a change reaches a subscribed app live (Broadcast, no new sync).
# Run twice: through the published TypeScript relay (the baseline that proves
# the harness) and through the C relay (`evolu relay`).
. "$(dirname "$0")/lib.sh"

scenario() {
  kind=$1
  A=$kind-next5
  B=$kind-v11
  log "$kind relay at $URL"
  ts next5 "$A" --relay "$URL" insert todo '{"title":"from next5","isCompleted":false}' \
    insert item '{"t":"{\"json\":[1,2]}","n":-0.5,"b":{"$bytes":"00ff10"},"v":null}' sync >"$WORK/a1.out" \
    || fail "$kind: next5 app could not insert and sync"
  m=$(cat "$WORK/$A/mnemonic")
  ts next5 "$A" rows todo rows item >"$WORK/a.rows"
  [ "$(lines "$WORK/a.rows")" = 2 ] || fail "$kind: next5 app should have 2 rows"

  ts v11 "$B" --mnemonic "$m" --relay "$URL" sync rows todo rows item >"$WORK/b.rows" \
    || fail "$kind: v11 app could not sync"
  same "$kind: v11 app sees the next5 app's rows" "$WORK/a.rows" "$WORK/b.rows"

  # v11 writes, next5 reads.
  ts v11 "$B" --relay "$URL" insert todo '{"title":"from v11 ✓","isCompleted":true}' sync >/dev/null \
    || fail "$kind: v11 app could not insert and sync"
  ts next5 "$A" --relay "$URL" sync rows todo rows item >"$WORK/a.rows" || fail "$kind: next5 sync"
  ts v11 "$B" rows todo rows item >"$WORK/b.rows"
  [ "$(lines "$WORK/a.rows")" = 3 ] || fail "$kind: expected 3 rows"
  same "$kind: next5 app sees the v11 app's rows" "$WORK/b.rows" "$WORK/a.rows"

  # Live: the v11 app stays subscribed; the next5 app writes; the v11 app sees
  # it through Broadcast without syncing again.
  bg "$kind-live" 60 "$NODE" "$INTEROP_DIR/ts-app.mjs" --version v11 --db "$WORK/$B" --relay "$URL" \
    --timeout 50 sync echo subscribed wait-rows todo 3 40 rows todo
  live=$BG_PID
  n=0
  until grep -q '^subscribed$' "$WORK/$kind-live.out" 2>/dev/null; do
    n=$((n + 1))
    [ $n -lt 300 ] || fail "$kind: the subscribed app did not finish its first sync"
    kill -0 $live 2>/dev/null || fail "$kind: the subscribed app exited early"
    sleep 0.1
  done
  ts next5 "$A" --relay "$URL" insert todo '{"title":"live","isCompleted":null}' sync >/dev/null \
    || fail "$kind: next5 live write"
  wait $live || fail "$kind: the subscribed v11 app did not receive the live change"
  ts next5 "$A" rows todo >"$WORK/a.todo"
  sed -n '/^{/p' "$WORK/$kind-live.out" >"$WORK/b.todo"
  same "$kind: live change reached the subscribed app" "$WORK/a.todo" "$WORK/b.todo"
  log "$kind relay: ok"
}

ts_relay tsrelay
scenario ts
stop "$RELAY_PID" || fail "the TypeScript relay did not exit 0 on SIGTERM"

c_relay crelay
scenario c
stop "$RELAY_PID" || fail "evolu relay did not exit 0 on SIGTERM"
log "done"
