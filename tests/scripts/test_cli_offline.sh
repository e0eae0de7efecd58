#!/bin/sh
# test_cli_offline.sh - the `evolu` client commands that need no relay:
# owner new/restore/show, schema, insert/update/delete, query output for
# every value kind, --help, plain-words errors and exit codes.
# usage: sh test_cli_offline.sh BUILD_DIR PATH_TO_evolu
set -u
E=${2:?usage: test_cli_offline.sh BUILD_DIR EVOLU}
T=$(mktemp -d "${TMPDIR:-/tmp}/evolu-cli-XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
checks=0
ok() { checks=$((checks + 1)); }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*" >&2; }
# expect_rc WANT CMD... : runs CMD (stdout to $T/out, stderr to $T/err)
expect_rc() {
    want=$1; shift
    "$@" >"$T/out" 2>"$T/err"; got=$?
    if [ "$got" = "$want" ]; then ok; else bad "exit $got (want $want): $* : $(cat "$T/err")"; fi
}
expect_out() { # WANT-TEXT
    if [ "$(cat "$T/out")" = "$1" ]; then ok; else
        bad "stdout differs"; printf 'want:\n%s\ngot:\n%s\n' "$1" "$(cat "$T/out")" >&2; fi
}
expect_err_has() {
    if grep -q -- "$1" "$T/err"; then ok; else bad "stderr lacks '$1': $(cat "$T/err")"; fi
}

A="$T/a.db"; B="$T/b.db"; C="$T/c.db"

# --- owner -----------------------------------------------------------------------
expect_rc 0 "$E" -d "$A" owner new
M=$(cat "$T/out")
[ "$(echo "$M" | wc -w)" = 24 ] && ok || bad "owner new printed '$M', not 24 words"
[ "$(cat "$T/out" | wc -l)" = 1 ] && ok || bad "owner new printed more than one line"
expect_rc 0 "$E" -d "$A" owner show
ID=$(cat "$T/out")
echo "$ID" | grep -Eq '^[A-Za-z0-9_-]{22}$' && ok || bad "owner show printed '$ID'"
expect_rc 1 "$E" -d "$A" owner new
expect_err_has "already has an owner"
expect_rc 0 "$E" -d "$B" owner restore "$M"
expect_rc 0 "$E" -d "$B" owner show
expect_out "$ID"
expect_rc 0 "$E" -d "$B" owner restore "$M"          # same owner again: fine
# the published vectors' owner: 32 zero bytes
Z="abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art"
expect_rc 1 "$E" -d "$B" owner restore "$Z"          # another owner: refused
expect_err_has "another owner"
expect_rc 0 "$E" -d "$C" owner restore "$Z"
expect_rc 0 "$E" -d "$C" owner show
[ "$(cat "$T/out")" != "$ID" ] && ok || bad "different mnemonics gave the same owner"
expect_rc 2 "$E" -d "$T/x.db" owner restore "abandon abandon"
expect_err_has "mnemonic"
expect_rc 2 "$E" -d "$T/x.db" owner restore "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon"
expect_rc 1 "$E" -d "$T/y.db" owner show
expect_err_has "no owner"
expect_rc 2 "$E" owner show
expect_err_has "no database"
expect_rc 2 "$E" -d "$A" owner frobnicate
# show --device: the firmware's first-boot argument (docs/firmware.md), the
# published vectors' keys of Z (crypto_owner.json: ownerIdBytes |
# encryptionKey | writeKey), from a mnemonic without a database and from a
# database restored from it; the same for a fresh owner both ways
KZ="owner_keys=f12f81866f218cecfd6e2476a63776b4c46de42f03111cba44a0ea8321ea942f38e74e4b2c7820670d8a36290e01843e392f339d02ce5f134fcecb2671512992"
expect_rc 0 "$E" owner show --device "$Z"
expect_out "$KZ"
expect_rc 0 "$E" -d "$C" owner show --device
expect_out "$KZ"
expect_rc 0 "$E" -d "$A" owner show --device
KA=$(cat "$T/out")
echo "$KA" | grep -Eq '^owner_keys=[0-9a-f]{128}$' && ok || bad "owner show --device printed '$KA'"
expect_rc 0 "$E" owner show --device "$M"
expect_out "$KA"
expect_rc 2 "$E" owner show --device "abandon abandon"
expect_err_has "mnemonic"
expect_rc 2 "$E" -d "$A" owner show --frobnicate
expect_rc 1 "$E" -d "$T/y.db" owner show --device
expect_err_has "no owner"
expect_rc 0 "$E" owner --help
grep -q -- "show --device" "$T/out" && ok || bad "owner --help lacks show --device"

# --- schema ----------------------------------------------------------------------
expect_rc 0 "$E" -d "$A" schema "todo(title, isCompleted)" "tag(name)"
expect_rc 0 "$E" -d "$A" schema "todo(title, note)"   # extends, keeps isCompleted
expect_rc 0 "$E" -d "$A" query "select name from pragma_table_info('todo') order by cid"
expect_out '{"name":"id"}
{"name":"createdAt"}
{"name":"updatedAt"}
{"name":"isDeleted"}
{"name":"ownerId"}
{"name":"title"}
{"name":"isCompleted"}
{"name":"note"}'
expect_rc 2 "$E" -d "$A" schema "todo title"
expect_rc 2 "$E" -d "$A" schema "todo(a,,b)"
expect_rc 2 "$E" -d "$A" schema "todo(id)"
expect_err_has "system column"
expect_rc 2 "$E" -d "$A" schema "evolu_x(a)"
expect_rc 2 "$E" -d "$A" schema

# --- insert / update / delete and query output ------------------------------------
expect_rc 0 "$E" -d "$A" insert todo '{"title":"milk","isCompleted":false}'
R1=$(cat "$T/out")
echo "$R1" | grep -Eq '^[A-Za-z0-9_-]{22}$' && ok || bad "insert printed '$R1'"
expect_rc 0 "$E" -d "$A" query "select title, isCompleted, isDeleted, ownerId = '$ID' as mine, typeof(createdAt) as c from todo where id = '$R1'"
expect_out '{"title":"milk","isCompleted":0,"isDeleted":null,"mine":1,"c":"text"}'

# every value kind, and text that looks like something else stays text
i=0
check_value() { # JSON-in  expected-JSON-out
    i=$((i + 1))
    "$E" -d "$A" insert todo "{\"title\":$1}" >"$T/out" 2>"$T/err" || { bad "insert $1: $(cat "$T/err")"; return; }
    r=$(cat "$T/out")
    expect_rc 0 "$E" -d "$A" query "select title from todo where id = '$r'"
    expect_out "{\"title\":$2}"
}
check_value '"{\"a\":1}"' '"{\"a\":1}"'
check_value '"[1,2]"' '"[1,2]"'
check_value '"123"' '"123"'
check_value '"1.50"' '"1.50"'
check_value '"true"' '"true"'
check_value '"null"' '"null"'
check_value '"AAAAAAAAAAAAAAAAAAAAAA"' '"AAAAAAAAAAAAAAAAAAAAAA"'
check_value '"SGVsbG8"' '"SGVsbG8"'
check_value '"2024-01-02T03:04:05.678Z"' '"2024-01-02T03:04:05.678Z"'
check_value '""' '""'
check_value '"žluťoučký kůň 🐎 \u00e9"' '"žluťoučký kůň 🐎 é"'
check_value '"a\"b\\c\nd\te\u0001"' '"a\"b\\c\nd\te\u0001"'
check_value '0' '0'
check_value '1' '1'
check_value '-1' '-1'
check_value '1.0' '1'
check_value '0.1' '0.1'
check_value '-12.5' '-12.5'
check_value '1e21' '1e+21'
check_value '123456789012' '123456789012'
check_value '9007199254740993' '9007199254740992'
check_value '1.7976931348623157e308' '1.7976931348623157e+308'
check_value '5e-324' '5e-324'
check_value '-0' '0'
check_value 'null' 'null'
check_value 'true' '1'
check_value 'false' '0'
check_value '{"$bytes":"00ff10"}' '{"$bytes":"00ff10"}'
check_value '{"$bytes":"ABCD"}' '{"$bytes":"abcd"}'
check_value '{"$bytes":""}' '{"$bytes":""}'

expect_rc 0 "$E" -d "$A" update todo "$R1" '{"title":"oat milk","note":null}'
expect_rc 0 "$E" -d "$A" query "select title, note, typeof(updatedAt) as u from todo where id = '$R1'"
expect_out '{"title":"oat milk","note":null,"u":"text"}'
expect_rc 0 "$E" -d "$A" delete todo "$R1"
expect_rc 0 "$E" -d "$A" query "select title, isDeleted from todo where id = '$R1'"
expect_out '{"title":"oat milk","isDeleted":1}'

expect_rc 0 "$E" -d "$A" query "select 1 as one, 1.0 as f, 0.1 as p, 1e21 as big, null as n, x'00ff' as b, 'x' as t"
expect_out '{"one":1,"f":1,"p":0.1,"big":1e+21,"n":null,"b":{"$bytes":"00ff"},"t":"x"}'
expect_rc 0 "$E" -d "$A" query "select * from todo where 0"
expect_out ''
expect_rc 1 "$E" -d "$A" query "select * from nosuchtable"
expect_err_has "no such table"

expect_rc 1 "$E" -d "$A" insert nosuch '{"a":1}'
expect_err_has "not declared"
expect_rc 1 "$E" -d "$A" insert todo '{"nosuch":1}'
expect_rc 2 "$E" -d "$A" insert todo '{"title":[1]}'
expect_rc 2 "$E" -d "$A" insert todo '{"title":1'
expect_rc 2 "$E" -d "$A" insert todo '{"title":1,"title":2}'
expect_rc 2 "$E" -d "$A" insert todo '{"title":{"$bytes":"abc"}}'
expect_rc 2 "$E" -d "$A" update todo not-an-id '{"title":1}'
expect_rc 2 "$E" -d "$A" delete todo
expect_rc 1 "$E" -d "$T/y.db" insert todo '{"title":1}'

# --- help and usage ---------------------------------------------------------------
for sub in owner schema insert update delete query sync watch relay; do
    expect_rc 0 "$E" "$sub" --help
    grep -q "usage" "$T/out" && ok || bad "$sub --help prints no usage"
done
expect_rc 0 "$E" --help
expect_rc 2 "$E"
expect_rc 2 "$E" nosuchcommand
expect_rc 2 "$E" -d "$A" sync
expect_rc 2 "$E" -d "$A" sync "http://example.com"
expect_rc 2 "$E" -d "$A" sync ws://127.0.0.1:1 --timeout abc

echo "CHECKS test_cli_offline: $checks checked, $fails failed"
[ "$fails" = 0 ]
