#!/usr/bin/env bash
# The faults-under-load suite (tests/faults/, docs/faults.md), with its figures at the end.
#   faults/run.sh          the short form, as `cargo test` runs it in CI (debug build)
#   faults/run.sh --long   the long form: release build, longer phases, the 1,000,000-call soak
# Needs nginx (apt-get install nginx) for the instance-death test, PostgreSQL's server
# binaries (apt-get install postgresql) for the shared log and the database-gone test, and
# root for the full-disk test (a 4 MB tmpfs); without them those tests say why and skip.
set -euo pipefail
cd "$(dirname "$0")/.."

form=short
cargo_args=()
case "${1:-}" in
  "") ;;
  --long) form=long; cargo_args=(--release) ;;
  *) echo "usage: faults/run.sh [--long]" >&2; exit 2 ;;
esac

# 10,000 idle connections need as many descriptors in the server and in the test.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
log="target/faults-$form.log"
mkdir -p target
status=0
SWITCHBOARD_FAULTS=$form cargo test "${cargo_args[@]}" --test faults -- --nocapture --test-threads=1 2>&1 \
  | tee "$log" || status=$?
echo
echo "== figures ($form form; the whole output is in $log)"
grep -oE 'faults: .*' "$log" || echo "no figures: see $log"
exit "$status"
