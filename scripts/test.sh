#!/bin/sh
# The whole test suite: type-check, lint, format check, then every test file.
set -eu
cd "$(dirname "$0")/.."
export METADATA_SERVER_DETECTION=none
echo "== type-check"
npx tsc --noEmit -p .
npx tsc --noEmit -p console
echo "== lint"
npx eslint --max-warnings 0 .
npx prettier --check . >/dev/null || { npx prettier --check . ; exit 1; }
echo "== tests"
files=$(find src test -name '*.test.ts' | sort)
# shellcheck disable=SC2086
node --import tsx --test --test-concurrency=2 --test-reporter=spec $files
