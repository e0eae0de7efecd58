#!/bin/sh
# The README's first command, scripts/demo.sh, run with the evolu program of
# this build: a relay and two clients must end with identical rows, and the
# live watch must have seen the laptop's delete arrive.
# usage: test_demo.sh BUILD_DIR PATH_TO_evolu
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! EVOLU="$2" timeout 180 sh "$here/../../scripts/demo.sh" >"$out" 2>&1; then
  cat "$out"; echo "FAIL: the demo exited with an error"; exit 1
fi
fail=0
check() {
  if grep -q "$1" "$out"; then echo "ok: $2"; else echo "FAIL: $2"; fail=1; fi
}
check '^converged: the laptop and the phone hold identical rows$' "both clients converged"
check '"column":"isDeleted","value":1' "the watch saw the delete live"
check '"title":"Call Ana' "the phone's offline todo is in the table"
rows=$(sed -n '/^laptop  *| phone$/,/^converged/p' "$out" | grep -c '^{')
if [ "$rows" = 3 ]; then echo "ok: 3 rows side by side"; else echo "FAIL: $rows rows side by side"; fail=1; fi
[ $fail = 0 ] || cat "$out"
exit $fail
