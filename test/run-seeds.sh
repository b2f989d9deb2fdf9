#!/usr/bin/env bash
# The seed-sensitive checks at other seeds than the default (issue #15): the trainer's pytest suite and the
# demo (`npm run demo -- --once` on a fresh data dir, whose output the e2e test asserts on), once per seed.
# Usage: bash test/run-seeds.sh 1 2 3 4 5   (about 7 minutes a seed on a 2-core machine)
set -uo pipefail
cd "$(dirname "$0")/.."
bash infra/bootstrap.sh
py=$(node --import tsx -e "process.stdout.write(require('./lib/paths').pythonBin())")
logs=$(mktemp -d)
status=0
for seed in "$@"; do
  (cd training-py && FEROPS_SEED=$seed "$py" -m pytest -q -p no:cacheprovider) > "$logs/pytest-$seed.log" 2>&1
  pytest_rc=$?
  FEROPS_SEED=$seed FEROPS_DATA_DIR="$logs/demo-$seed" node --import tsx services/cli/main.ts demo --once > "$logs/demo-$seed.log" 2>&1
  demo_rc=$?
  # The challenger must be promoted through every window, as the e2e test requires.
  grep -q 'challenger: pipeline promoted: every window passed' "$logs/demo-$seed.log" || demo_rc=1
  printf 'seed %s: pytest %s (%s) | demo %s | %s\n' "$seed" "$([ $pytest_rc = 0 ] && echo pass || echo FAIL)" \
    "$(tail -1 "$logs/pytest-$seed.log")" "$([ $demo_rc = 0 ] && echo pass || echo FAIL)" \
    "$(grep -oE 'challenger: pipeline [a-z_]+.*test accuracy [0-9.]+' "$logs/demo-$seed.log" | head -1)"
  grep -E '^  canary ' "$logs/demo-$seed.log" | sed 's/^/    /'
  [ $pytest_rc = 0 ] && [ $demo_rc = 0 ] || status=1
  rm -rf "$logs/demo-$seed"
done
echo "logs in $logs"
exit $status
