# Bulk: 5,000 rows written by a published next5 app and 5,000 rows written by
# C clients cross through the published TypeScript relay, more than 1 MB in
# total, so sync takes several RBSR rounds and messages (each under the
# relay's 1,000,000-byte frame limit); every side ends with identical rows.
#   1. the app writes 5,000 rows and pushes them; a C client pulls them all;
#   2. four C clients of the same owner write 1,250 rows each (in parallel,
#      each with one `evolu insert -`) and push them; the C client
#      and the app pull them: 10,000 identical rows;
#   3. the C client pushes all 10,000 rows to a second, empty TypeScript
#      relay, and a fresh 8.11.0 app pulls them from it: identical rows.
. "$(dirname "$0")/lib.sh"
N=${EVOLU_INTEROP_BULK:-5000}
W=4
per=$((N / W))
N=$((per * W))
pad=$(printf '%0150d' 0)
ts_relay relay
URL1=$URL
RELAY1=$RELAY_PID

# 1.
t=$(date +%s)
ts next5 app --relay "$URL1" --timeout 120 bulk todo "$N" "ts-$pad-" sync >/dev/null \
  || fail "the app could not write and sync $N rows"
log "app wrote and pushed $N rows in $(($(date +%s) - t)) s"
ts next5 app rows todo >"$WORK/ts.rows"
[ "$(lines "$WORK/ts.rows")" = "$N" ] || fail "the app has $(lines "$WORK/ts.rows") rows, expected $N"
mnemonic=$(cat "$WORK/app/mnemonic")
c cdb owner restore "$mnemonic" >/dev/null || fail "evolu owner restore"
c cdb schema "$SCHEMA_TODO" || fail "evolu schema"
t=$(date +%s)
c cdb sync "$URL1" --timeout 120 || fail "evolu sync of $N rows from the app"
log "C client pulled $N rows in $(($(date +%s) - t)) s"
c_rows cdb todo >"$WORK/c.rows"
same "the C client has exactly the app's $N rows" "$WORK/ts.rows" "$WORK/c.rows"

# 2.
t=$(date +%s)
writers=""
w=0
while [ $w -lt $W ]; do
  c "w$w" owner restore "$mnemonic" >/dev/null || fail "evolu owner restore (writer $w)"
  c "w$w" schema "$SCHEMA_TODO" || fail "evolu schema (writer $w)"
  (
    i=0
    while [ $i -lt $per ]; do
      printf '{"title":"c-%s-%d-%d","isCompleted":false}\n' "$pad" "$w" "$i"
      i=$((i + 1))
    done >"$WORK/w$w.jsonl"
    c "w$w" insert todo - <"$WORK/w$w.jsonl" >/dev/null || exit 1
    c "w$w" sync "$URL1" --timeout 120 || exit 1
  ) >"$WORK/w$w.out" 2>"$WORK/w$w.err" &
  writers="$writers $!"
  PIDS="$PIDS $!"
  w=$((w + 1))
done
for p in $writers; do
  wait "$p" || fail "a C writer could not insert or push its $per rows"
done
log "$W C clients wrote and pushed $N rows in $(($(date +%s) - t)) s"
t=$(date +%s)
c cdb sync "$URL1" --timeout 120 || fail "evolu sync of the C writers' rows"
log "C client pulled $N rows in $(($(date +%s) - t)) s"
c_rows cdb todo >"$WORK/c.rows"
[ "$(lines "$WORK/c.rows")" = $((2 * N)) ] || fail "the C client has $(lines "$WORK/c.rows") rows, expected $((2 * N))"
bytes=$(wc -c <"$WORK/c.rows" | tr -d ' ')
[ "$bytes" -gt 1000000 ] || fail "only $bytes bytes of rows; the test must move more than 1 MB"
t=$(date +%s)
ts next5 app --relay "$URL1" --timeout 120 sync rows todo >"$WORK/ts.rows" || fail "the app could not sync"
log "app pulled $N rows in $(($(date +%s) - t)) s"
same "the app has exactly the C client's $((2 * N)) rows" "$WORK/c.rows" "$WORK/ts.rows"

# 3.
ts_relay relay2
t=$(date +%s)
c cdb sync "$URL" --timeout 120 || fail "evolu sync pushing $((2 * N)) rows to an empty relay"
log "C client pushed $((2 * N)) rows to an empty relay in $(($(date +%s) - t)) s"
t=$(date +%s)
ts v11 app11 --mnemonic "$mnemonic" --relay "$URL" --timeout 120 sync rows todo >"$WORK/v11.rows" \
  || fail "the 8.11.0 app could not sync"
log "8.11.0 app pulled $((2 * N)) rows in $(($(date +%s) - t)) s"
same "the 8.11.0 app has exactly the C client's $((2 * N)) rows" "$WORK/c.rows" "$WORK/v11.rows"
log "all sides: $((2 * N)) identical rows, $bytes bytes as JSON"
stop "$RELAY_PID" || fail "the second relay did not exit 0"
stop "$RELAY1" || fail "the relay did not exit 0"
