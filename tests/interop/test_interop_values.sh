# Values of every kind cross between the published TypeScript apps and the
# C client through the published TypeScript relay, both ways, and both sides
# show identical rows (tests/interop/values.jsonl: text that looks like JSON,
# numbers, Base64Url, an Id or a date; unicode; empty strings; integers,
# negatives, fractions, large numbers; null; booleans; bytes).
#   1. a next5 app creates the owner and writes every value; the C client
#      restores the app's mnemonic, syncs and reads identical rows;
#   2. the C client writes every value again; a fresh 8.11.0 app restored from
#      the same mnemonic and the next5 app read identical rows.
. "$(dirname "$0")/lib.sh"
VALUES="$INTEROP_DIR/values.jsonl"
nvalues=$(lines "$VALUES")

ts_relay relay

# 1. TypeScript writes, C reads.
set --
while IFS= read -r v; do set -- "$@" insert item "$v"; done <"$VALUES"
ts next5 app --relay "$URL" "$@" sync >"$WORK/ids" || fail "the next5 app could not write and sync"
[ "$(lines "$WORK/ids")" = "$nvalues" ] || fail "the next5 app printed $(lines "$WORK/ids") ids, expected $nvalues"
ts next5 app rows item >"$WORK/ts.rows"
[ "$(lines "$WORK/ts.rows")" = "$nvalues" ] || fail "the next5 app has $(lines "$WORK/ts.rows") rows"
mnemonic=$(cat "$WORK/app/mnemonic")

c cdb owner restore "$mnemonic" >/dev/null || fail "evolu owner restore"
[ "$(c cdb owner show)" = "$(ts next5 app owner-id)" ] || fail "the C client and the app have different owner ids"
c cdb schema "$SCHEMA_TODO" "$SCHEMA_ITEM" || fail "evolu schema"
c cdb sync "$URL" --timeout 60 || fail "evolu sync (TypeScript -> C)"
c_rows cdb item >"$WORK/c.rows" || fail "evolu query"
same "C reads exactly the rows the TypeScript app wrote" "$WORK/ts.rows" "$WORK/c.rows"
log "TypeScript -> C: $nvalues rows identical"

# 2. C writes, TypeScript reads (8.11.0 and next5).
while IFS= read -r v; do
  c cdb insert item "$v" >>"$WORK/cids" || fail "evolu insert $v"
done <"$VALUES"
c cdb sync "$URL" --timeout 60 || fail "evolu sync (C -> TypeScript)"
c_rows cdb item >"$WORK/c.rows"
[ "$(lines "$WORK/c.rows")" = $((2 * nvalues)) ] || fail "the C client has $(lines "$WORK/c.rows") rows"
ts v11 app11 --mnemonic "$mnemonic" --relay "$URL" sync rows item >"$WORK/v11.rows" \
  || fail "the 8.11.0 app could not sync"
same "the 8.11.0 app reads exactly the C client's rows" "$WORK/c.rows" "$WORK/v11.rows"
ts next5 app --relay "$URL" sync rows item >"$WORK/ts.rows" || fail "the next5 app could not sync"
same "the next5 app reads exactly the C client's rows" "$WORK/c.rows" "$WORK/ts.rows"
log "C -> TypeScript: $((2 * nvalues)) rows identical on C, 8.11.0 and next5"
stop "$RELAY_PID" || fail "the relay did not exit 0"
