#!/bin/sh
# test_cli_sync.sh - `evolu sync` and `evolu watch` end to end against
# `evolu relay --port 0` on 127.0.0.1: two databases of one owner converge,
# watch prints Broadcasts live, offline mutations go out on the next sync,
# many rows from one `insert -` and the largest changes travel (one longer
# is refused when made),
# an unreachable relay fails with exit 1, and watch reconnects after the
# relay restarts. Every process started is bounded by `timeout` and stopped
# by its own PID.
# usage: sh test_cli_sync.sh BUILD_DIR PATH_TO_evolu
set -u
E=${2:?usage: test_cli_sync.sh BUILD_DIR EVOLU}
T=$(mktemp -d "${TMPDIR:-/tmp}/evolu-sync-XXXXXX")
RELAY_PID=; WATCH_PID=
cleanup() {
    [ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null
    [ -n "$RELAY_PID" ] && kill "$RELAY_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
fails=0; checks=0
ok() { checks=$((checks + 1)); }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*" >&2; }
run() { # WANT-RC CMD...
    want=$1; shift
    "$@" >"$T/out" 2>"$T/err"; got=$?
    if [ "$got" = "$want" ]; then ok; else bad "exit $got (want $want): $* : $(cat "$T/err")"; fi
}
# step WHAT: where the test is, on stderr, so a run that is stopped from
# outside (CTest's timeout) shows how far it came
step() { echo "test_cli_sync: $*" >&2; }
same() { # A B what
    if [ "$1" = "$2" ]; then ok; else bad "$3 differ"; printf 'A:\n%s\nB:\n%s\n' "$1" "$2" >&2; fi
}

# start_relay [PORT]: sets RELAY_PID and URL
start_relay() {
    : >"$T/relay.out"
    timeout -k 5 120 "$E" relay --port "${1:-0}" --db "$T/relay.db" >"$T/relay.out" 2>"$T/relay.err" &
    RELAY_PID=$!
    n=0
    while ! grep -q '^listening on ' "$T/relay.out" && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    URL=$(sed -n 's/^listening on //p' "$T/relay.out")
    [ -n "$URL" ] || { echo "relay did not start: $(cat "$T/relay.err")" >&2; exit 1; }
}
stop_relay() { kill "$RELAY_PID" 2>/dev/null; wait "$RELAY_PID" 2>/dev/null; RELAY_PID=; }

start_relay
PORT=${URL##*:}
A="$T/a.db"; B="$T/b.db"
M=$("$E" -d "$A" owner new)
"$E" -d "$B" owner restore "$M" || bad "restore"
"$E" -d "$A" schema "todo(title, isCompleted, data)" >/dev/null
"$E" -d "$B" schema "todo(title, isCompleted)" >/dev/null  # B lacks "data" at first

Q="select id, title, isCompleted, data, isDeleted, createdAt, updatedAt from todo order by id"
for v in '"x"' '"{\"a\":1}"' '""' '1' '-2.5' '1e21' 'null' '"🐎"'; do
    "$E" -d "$A" insert todo "{\"title\":$v,\"isCompleted\":false}" >/dev/null || bad "insert $v"
done
R=$("$E" -d "$A" insert todo '{"title":"bytes","data":{"$bytes":"00ff"}}')
run 0 timeout -k 5 30 "$E" -d "$A" sync "$URL" --timeout 20
run 0 timeout -k 5 30 "$E" -d "$B" sync "$URL" --timeout 20
"$E" -d "$B" schema "todo(data)" >/dev/null      # quarantined values appear
same "$("$E" -d "$A" query "$Q")" "$("$E" -d "$B" query "$Q")" "rows after sync A->B"
[ "$("$E" -d "$B" query "select count(*) as n from todo" )" = '{"n":9}' ] && ok || bad "B has not 9 rows"

# B edits and deletes, A gets it
step "B edits and deletes"
"$E" -d "$B" update todo "$R" '{"title":"edited on B"}' || bad "update"
"$E" -d "$B" delete todo "$R" || bad "delete"
run 0 timeout -k 5 30 "$E" -d "$B" sync "$URL" --timeout 20
run 0 timeout -k 5 30 "$E" -d "$A" sync "$URL" --timeout 20
same "$("$E" -d "$A" query "$Q")" "$("$E" -d "$B" query "$Q")" "rows after B's edit"
[ "$("$E" -d "$A" query "select title, isDeleted from todo where id = '$R'")" = '{"title":"edited on B","isDeleted":1}' ] && ok || bad "A lacks B's edit"

# a second sync with nothing new converges too
run 0 timeout -k 5 30 "$E" -d "$A" sync "$URL" --timeout 20

# bulk: more than one message of 1 MB in total forces continuation rounds
step "bulk"
i=0; pad=$(head -c 3000 /dev/zero | tr '\0' 'p')
while [ $i -lt 600 ]; do
    printf '{"title":"%s-%d"}\n' "$pad" "$i"; i=$((i + 1))
done >"$T/bulk"
# (`insert TABLE -`: one process, one transaction, one id per line)
run 0 timeout -k 5 60 "$E" -d "$A" insert todo - <"$T/bulk"
[ "$(grep -c '^[A-Za-z0-9_-]\{22\}$' "$T/out")" = 600 ] && ok || bad "insert - printed $(wc -l <"$T/out") lines, not 600 ids"
run 0 timeout -k 5 60 "$E" -d "$A" sync "$URL" --timeout 50
run 0 timeout -k 5 60 "$E" -d "$B" sync "$URL" --timeout 50
same "$("$E" -d "$A" query "$Q")" "$("$E" -d "$B" query "$Q")" "rows after bulk"
# a bad line refuses the whole input: nothing of it is inserted
n0=$("$E" -d "$A" query "select count(*) as n from todo")
printf '{"title":"ok"}\n{"title":\n' | "$E" -d "$A" insert todo - >"$T/out" 2>"$T/err"
[ $? = 2 ] && grep -q "line 2" "$T/err" && ok || bad "bad line 2: $(cat "$T/err")"
[ "$("$E" -d "$A" query "select count(*) as n from todo")" = "$n0" ] && ok || bad "a refused input left rows"

# the largest changes: no message can carry an EncryptedDbChange over 999,825
# bytes, so a row whose change would be longer is refused when it is made
# (exit 1, nothing stored) instead of being stored and never synced; the
# longest accepted ones (a text of 999,300 bytes pads to 999,424) travel
# whole, two of them in separate rounds. The space keeps the text from the
# shorter Base64Url encoding.
step "the largest changes"
big() { printf '{"title":"a %s"}\n' "$(head -c "$1" /dev/zero | tr '\0' "$2")" >"$T/big"; }
big 999298 b; run 0 timeout -k 5 30 "$E" -d "$A" insert todo - <"$T/big"
big1=$(cat "$T/out")
big 999298 c; run 0 timeout -k 5 30 "$E" -d "$A" insert todo - <"$T/big"
big 999380 d; run 1 timeout -k 5 30 "$E" -d "$A" insert todo - <"$T/big"
grep -q "too large to sync" "$T/err" && ok || bad "no reason for the oversize row: $(cat "$T/err")"
[ "$("$E" -d "$A" query "select count(*) as n from todo where title like 'a d%'")" = '{"n":0}' ] && ok || bad "the oversize row was stored"
run 0 timeout -k 5 60 "$E" -d "$A" sync "$URL" --timeout 50
run 0 timeout -k 5 60 "$E" -d "$B" sync "$URL" --timeout 50
BQ="select id, length(title) as n, title from todo where length(title) > 900000 order by id"
[ "$("$E" -d "$B" query "select length(title) as n from todo where id = '$big1'")" = '{"n":999300}' ] && ok || bad "the largest row did not arrive whole"
[ "$("$E" -d "$A" query "$BQ" | cksum)" = "$("$E" -d "$B" query "$BQ" | cksum)" ] && ok || bad "the largest rows differ after sync"
# a database that already holds a change too large to send (as one written
# before the limit was checked could): sync stops at once and says why,
# instead of trading Fingerprints with the relay forever
step "an unsendable stored change"
if command -v python3 >/dev/null 2>&1; then
    C="$T/c.db"
    "$E" -d "$C" owner new >/dev/null && "$E" -d "$C" schema "todo(title)" >/dev/null
    "$E" -d "$C" insert todo '{"title":"soon too large"}' >/dev/null
    python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n = db.execute("update evolu_message set change = randomblob(999900)").rowcount
db.commit()
sys.exit(0 if n == 1 else 1)' "$C" && ok || bad "could not enlarge the stored change"
    run 1 timeout -k 5 30 "$E" -d "$C" sync "$URL" --timeout 20
    grep -q "larger than any protocol message" "$T/err" && ok || bad "no reason for the unsendable change: $(cat "$T/err")"
fi

# watch: B stays connected and prints A's change as it arrives
step "watch"
timeout -k 5 60 "$E" -d "$B" watch "$URL" >"$T/watch.out" 2>"$T/watch.err" &
WATCH_PID=$!
n=0; while ! grep -qs '^watching ' "$T/watch.err" && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
grep -q "^watching $("$E" -d "$B" owner show)\$" "$T/watch.err" && ok || bad "watch did not log 'watching <ownerId>': $(cat "$T/watch.err")"
[ -s "$T/watch.out" ] && bad "watch printed before any change" || ok
L=$("$E" -d "$A" insert todo '{"title":"live!"}')
run 0 timeout -k 5 30 "$E" -d "$A" sync "$URL" --timeout 20
n=0; while ! grep -q '"live!"' "$T/watch.out" && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
grep -qx "{\"table\":\"todo\",\"id\":\"$L\",\"column\":\"title\",\"value\":\"live!\"}" "$T/watch.out" && ok || bad "watch output: $(cat "$T/watch.out")"

# the relay restarts on the same port: watch reconnects and sees new changes
step "relay restart under watch"
stop_relay
sleep 0.5
start_relay "$PORT"
L2=$("$E" -d "$A" insert todo '{"title":"after restart"}')
run 0 timeout -k 5 30 "$E" -d "$A" sync "$URL" --timeout 20
n=0; while ! grep -q '"after restart"' "$T/watch.out" && [ $n -lt 200 ]; do sleep 0.1; n=$((n + 1)); done
grep -q "\"id\":\"$L2\",\"column\":\"title\",\"value\":\"after restart\"" "$T/watch.out" && ok || bad "watch missed the change after the relay restarted: $(cat "$T/watch.err")"
kill -TERM "$WATCH_PID"; wait "$WATCH_PID"; rc=$?; WATCH_PID=
[ "$rc" = 0 ] && ok || bad "watch exit $rc on SIGTERM"

# SIGTERM while watch is still starting (opening the database, the first
# connection attempt): it exits at once; before, evolu_run cleared a stop that
# came in that window and ran on until killed (timeout's -k: exit 137)
step "SIGTERM while starting"
for d in 0.1 0.3 0.6; do
    timeout -k 5 30 "$E" -d "$B" watch "ws://127.0.0.1:1" >/dev/null 2>&1 &
    P=$!
    sleep "$d"
    kill -TERM "$P"
    wait "$P"; rc=$?
    case $rc in 0 | 143) ok ;; *) bad "watch given SIGTERM after ${d}s: exit $rc (137/124: it ignored the stop)" ;; esac
done

# watch --timeout ends by itself with 0
step "watch --timeout"
run 0 timeout -k 5 30 "$E" -d "$B" watch "$URL" --timeout 1

# offline mutation, relay away: sync fails with exit 1 and a reason, nothing is lost
step "offline mutation"
stop_relay
O=$("$E" -d "$A" insert todo '{"title":"offline"}')
run 1 timeout -k 5 30 "$E" -d "$A" sync "$URL" --timeout 10
grep -q "unreachable" "$T/err" && ok || bad "no reason for the unreachable relay: $(cat "$T/err")"
start_relay "$PORT"
run 0 timeout -k 5 30 "$E" -d "$A" sync "$URL" --timeout 20
run 0 timeout -k 5 30 "$E" -d "$B" sync "$URL" --timeout 20
[ "$("$E" -d "$B" query "select title from todo where id = '$O'")" = '{"title":"offline"}' ] && ok || bad "offline mutation lost"
same "$("$E" -d "$A" query "$Q")" "$("$E" -d "$B" query "$Q")" "rows at the end"

# a silent peer (a TCP listener that never answers): timeout, exit 1
step "silent peer"
if command -v python3 >/dev/null 2>&1; then
    timeout -k 5 30 python3 -c '
import socket,time,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1",0)); s.listen(5); print(s.getsockname()[1], flush=True)
c=[]
while True:
    a,_=s.accept(); c.append(a)
' >"$T/silent.port" &
    SILENT_PID=$!
    n=0; while [ ! -s "$T/silent.port" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
    run 1 timeout -k 5 30 "$E" -d "$A" sync "ws://127.0.0.1:$(cat "$T/silent.port")" --timeout 2
    kill "$SILENT_PID" 2>/dev/null; wait "$SILENT_PID" 2>/dev/null
fi

# a wrong write key (the relay's stored key replaced behind its back):
# exit 1 naming the write key, and the local mutation stays
step "wrong write key"
stop_relay
if command -v python3 >/dev/null 2>&1; then
    python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n = db.execute("update evolu_relay_write_key set writeKey = zeroblob(16)").rowcount
db.commit()
sys.exit(0 if n == 1 else 1)' "$T/relay.db" && ok || bad "could not change the relay write key"
    start_relay "$PORT"
    W=$("$E" -d "$A" insert todo '{"title":"rejected"}')
    run 1 timeout -k 5 30 "$E" -d "$A" sync "$URL" --timeout 20
    grep -q "write key" "$T/err" && ok || bad "no write-key reason: $(cat "$T/err")"
    [ "$("$E" -d "$A" query "select title from todo where id = '$W'")" = '{"title":"rejected"}' ] && ok || bad "rejected mutation lost locally"
    stop_relay
fi

# wss:// with a certificate we trust via --ca, refused without it
step "wss"
if command -v openssl >/dev/null 2>&1 &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
        -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1; then
    : >"$T/relay.out"
    timeout -k 5 60 "$E" relay --port 0 --db "$T/relay-tls.db" --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" \
        >"$T/relay.out" 2>"$T/relay.err" &
    RELAY_PID=$!
    n=0; while ! grep -q '^listening on ' "$T/relay.out" && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    TP=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$T/relay.out")
    run 0 timeout -k 5 30 "$E" -d "$A" sync "wss://localhost:$TP" --timeout 20 --ca "$T/cert.pem"
    run 1 timeout -k 5 30 "$E" -d "$A" sync "wss://localhost:$TP" --timeout 5
    grep -q "TLS" "$T/err" && ok || bad "no TLS reason: $(cat "$T/err")"
    stop_relay
else
    echo "note: openssl missing, wss:// not checked" >&2
fi

echo "CHECKS test_cli_sync: $checks checked, $fails failed"
[ "$fails" = 0 ]
