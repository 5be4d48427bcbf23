#!/usr/bin/env bash
# Runs every fuzz target (or those named after the budget) for SECONDS each, on nightly, and
# prints each one's executions and findings. Seeds come from the repository (seed.sh); new
# corpus entries stay in fuzz/corpus/ (not committed), crashes in fuzz/artifacts/.
#   fuzz/run.sh 300            every target for 5 minutes
#   fuzz/run.sh 60 flow token  two targets for a minute
# FUZZ_NICE (default 19) sets the fuzzers' niceness: 0 when the machine is theirs.
set -uo pipefail
cd "$(dirname "$0")"
seconds=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
./seed.sh
cargo +nightly fuzz build
printf '%-10s %12s %10s %s\n' target executions exec/s findings
status=0
for target in "${targets[@]}"; do
  log=$(mktemp)
  mkdir -p "corpus/$target" "artifacts/$target"
  before=$(ls "artifacts/$target" | wc -l)
  nice -n "${FUZZ_NICE:-19}" cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 >"$log" 2>&1
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
  rate=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
  found=$(( $(ls "artifacts/$target" | wc -l) - before ))
  if [ "$found" -gt 0 ]; then
    status=1
    printf '%-10s %12s %10s %s\n' "$target" "$execs" "$rate" "$found new in fuzz/artifacts/$target/"
    grep -m3 -E 'panicked|ERROR: libFuzzer|SUMMARY' "$log" | sed 's/^/    /'
  else
    printf '%-10s %12s %10s %s\n' "$target" "$execs" "$rate" none
  fi
  rm -f "$log"
done
exit $status
