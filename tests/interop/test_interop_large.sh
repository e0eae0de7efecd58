# The largest changes, between C and the published 8.11.0 app, through the
# published TypeScript relay and through ours: no message may exceed
# 1,000,000 bytes, so the longest change that can ever sync is 999,825 bytes
# encrypted (evolu_msg_size_change_max). For each relay:
#   1. the C client writes the two longest rows it accepts (999,300-byte
#      texts, padded to 999,424) and pushes them (two rounds); the app pulls
#      them whole;
#   2. the app writes a 600,000-character text (Evolu documents 640 KB per
#      mutation) and a 999,000-character one; the C client pulls both whole;
#   3. the C client refuses a row longer than any message can carry, with
#      nothing stored, and every side still has the same rows.
. "$(dirname "$0")/lib.sh"

# long FILE N CHAR: one JSON object per line for `evolu insert -`
long() { printf '{"title":"a %s"}\n' "$(head -c "$(($2 - 2))" /dev/zero | tr '\0' "$3")" >"$1"; }

for kind in ts c; do
  if [ $kind = ts ]; then ts_relay "relay-$kind"; else c_relay "relay-$kind"; fi
  db="c$kind"
  c "$db" owner new >"$WORK/$db.mnemonic" || fail "evolu owner new"
  c "$db" schema "$SCHEMA_TODO" || fail "evolu schema"
  # 1.
  long "$WORK/long1" 999300 b
  long "$WORK/long2" 999300 c
  c "$db" insert todo - <"$WORK/long1" >/dev/null || fail "the C client refused a 999,300-byte text"
  c "$db" insert todo - <"$WORK/long2" >/dev/null || fail "the C client refused a 999,300-byte text"
  c "$db" sync "$URL" --timeout 60 || fail "evolu sync pushing two ~1 MB rows ($kind relay)"
  ts v11 "app-$kind" --mnemonic "$(cat "$WORK/$db.mnemonic")" --relay "$URL" --timeout 120 \
    sync rows todo >"$WORK/ts1.rows" || fail "the app could not pull the C client's rows ($kind relay)"
  c_rows "$db" todo >"$WORK/c1.rows"
  [ "$(lines "$WORK/c1.rows")" = 2 ] || fail "the C client has $(lines "$WORK/c1.rows") rows, not 2"
  same "the app has the C client's two longest rows whole ($kind relay)" "$WORK/c1.rows" "$WORK/ts1.rows"
  log "$kind relay: two 999,300-byte rows from C reached the 8.11.0 app whole"
  # 2.
  ts v11 "app-$kind" --mnemonic "$(cat "$WORK/$db.mnemonic")" --relay "$URL" --timeout 120 \
    insert-long todo title 600000 d insert-long todo title 999000 e sync >/dev/null \
    || fail "the app could not write and push two long rows ($kind relay)"
  c "$db" sync "$URL" --timeout 60 || fail "evolu sync pulling the app's long rows ($kind relay)"
  c_rows "$db" todo >"$WORK/c2.rows"
  ts v11 "app-$kind" --mnemonic "$(cat "$WORK/$db.mnemonic")" rows todo >"$WORK/ts2.rows"
  [ "$(lines "$WORK/c2.rows")" = 4 ] || fail "the C client has $(lines "$WORK/c2.rows") rows, not 4"
  same "the C client has the app's long rows whole ($kind relay)" "$WORK/ts2.rows" "$WORK/c2.rows"
  [ "$(c "$db" query "select count(*) as n from todo where length(title) = 999000")" = '{"n":1}' ] \
    || fail "the app's 999,000-character row is not whole on the C side"
  log "$kind relay: the app's 600,000- and 999,000-character rows reached C whole"
  # 3.
  long "$WORK/long3" 999400 f
  if c "$db" insert todo - <"$WORK/long3" >/dev/null 2>"$WORK/refused.err"; then
    fail "the C client accepted a row no message can carry"
  fi
  grep -q "too large to sync" "$WORK/refused.err" || fail "no reason given: $(cat "$WORK/refused.err")"
  c "$db" sync "$URL" --timeout 60 || fail "evolu sync after the refused row ($kind relay)"
  c_rows "$db" todo >"$WORK/c3.rows"
  same "nothing of the refused row was stored ($kind relay)" "$WORK/c2.rows" "$WORK/c3.rows"
  stop "$RELAY_PID" || fail "the $kind relay did not exit 0"
done
log "both relays: the longest changes crossed C <-> 8.11.0 whole; a longer one was refused when made"
