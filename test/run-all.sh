#!/usr/bin/env bash
# Every test, in order of cost: typecheck, TypeScript unit tests, the trainer's pytest suite, integration tests
# against real services (each file starts its own servers on free ports in temp dirs), then the end-to-end run.
# `npm test` runs this after infra/bootstrap.sh has installed everything.
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(node --import tsx -e "process.stdout.write(require('./lib/paths').pythonBin())")
section() { printf '\n=== %s ===\n' "$*"; }
started=$(date +%s)

section "typecheck"
npx tsc --noEmit -p tsconfig.json

section "TypeScript unit tests"
node --import tsx --test --test-concurrency=2 test/unit/*.test.ts

section "trainer tests (pytest)"
(cd training-py && "$py" -m pytest -q -p no:cacheprovider)

section "integration tests (real Temporal, MLflow, inference service, trainer)"
node --import tsx --test --test-concurrency=1 test/integration/*.test.ts

section "end-to-end pipeline"
node --import tsx --test --test-concurrency=1 test/e2e/*.test.ts

echo "all tests passed in $(( $(date +%s) - started )) s"
