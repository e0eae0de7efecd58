#!/bin/sh
# Builds src/core (and EXTRA_SOURCES, e.g. the stream store) again with
# -ffreestanding and checks the rules of the core:
#  - it includes only freestanding headers (plus <string.h> for mem*),
#  - it calls nothing outside itself but memcpy/memmove/memset/memcmp,
#  - it has no mutable global state (no .data or .bss symbols).
# usage: check-freestanding.sh CC SOURCE_DIR OUT_DIR [EXTRA_SOURCES...]
set -eu
cc=$1 src=$2 out=$3
shift 3
mkdir -p "$out"
rm -f "$out"/*.o
status=0

# The project headers the checked sources use (gcc -MM lists them, without
# system headers), and the sources themselves, may include only these
# system headers. Host-only headers in include/evolu (the client, the relay)
# are not part of the core and are not checked.
files=""
for f in "$src"/src/core/*.c "$@"; do
  deps=$("$cc" -MM -I"$src/include" -I"$src/src/core" "$f" | tr -d '\\' | tr ' ' '\n' |
         grep -E '\.(c|h)$' || true)
  files="$files $deps"
done
files=$(printf '%s\n' $files | sort -u)
# shellcheck disable=SC2086
bad_includes=$(grep -Hn '^[[:space:]]*#[[:space:]]*include[[:space:]]*<' $files 2>/dev/null \
  | grep -v -E '<(stdint|stddef|stdbool|string|limits|float)\.h>' || true)
if [ -n "$bad_includes" ]; then
  echo "core includes non-freestanding headers:"; echo "$bad_includes"; status=1
fi

for f in "$src"/src/core/*.c "$@"; do
  "$cc" -std=c11 -ffreestanding -fno-builtin -O2 -Wall -Wextra -Werror \
        -I"$src/include" -I"$src/src/core" -c "$f" -o "$out/$(basename "$f" .c).o"
done

undef=$(nm -u "$out"/*.o | awk 'NF==2 {print $2}' | sort -u)
defined=$(nm --defined-only "$out"/*.o | awk 'NF==3 {print $3}' | sort -u)
for sym in $undef; do
  case "$sym" in
    memcpy|memmove|memset|memcmp) ;;
    *) if ! printf '%s\n' "$defined" | grep -qx "$sym"; then
         echo "core calls outside itself: $sym"; status=1
       fi ;;
  esac
done

mutable=$(nm "$out"/*.o | awk '$2 ~ /^[bBdDcC]$/ {print $3}' || true)
if [ -n "$mutable" ]; then
  echo "core has mutable global state:"; echo "$mutable"; status=1
fi

n=$(ls "$out"/*.o | wc -l)
if [ $status -eq 0 ]; then
  echo "core is freestanding: $n objects, external calls limited to mem*, no mutable globals"
fi
exit $status
