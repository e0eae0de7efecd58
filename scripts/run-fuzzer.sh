#!/bin/sh
# usage: run-fuzzer.sh FUZZER CORPUS_DIR SEED_DIR SECONDS
# Fuzzes for SECONDS with a 2 GB RSS cap and a 10 s per-input timeout, starting
# from the vector seeds; prints libFuzzer's final stats line and exits non-zero
# on any crash, leak, timeout or sanitizer report.
set -u
fuzzer=$1 corpus=$2 seeds=$3 secs=$4
mkdir -p "$corpus"
log=$(mktemp)
"$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$corpus/../$(basename "$fuzzer")-" \
  "$corpus" "$seeds" >"$log" 2>&1
rc=$?
grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | tr '\n' ' '
echo
if [ $rc -ne 0 ]; then
  tail -60 "$log"
fi
rm -f "$log"
exit $rc
