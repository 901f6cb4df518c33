#!/usr/bin/env bash
# The one command that runs every test (npm test, .ci/run). Installs what the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."
# Everything below, npm and the tests' children included, runs on the Node the image ships.
PATH="$(bash scripts/node.sh):$PATH"
export PATH
echo "test.sh: $(command -v node) $(node --version)" >&2
[ -d node_modules ] || npm ci --no-audit --no-fund
# Lint and format check first: a second or two, and a finding fails the run before the slow part
# (biome.json says which rules and why; `npm run format` rewrites what the check refuses).
npm run --silent lint
[ -f dist/cli.js ] && [ -f dist/bundle/cli.js ] && [ -z "$(find src -newer dist/cli.js -name '*.ts' | head -1)" ] || npm run build
bash scripts/install-test-deps.sh
PATH="$PATH:${XDG_CACHE_HOME:-$HOME/.cache}/spiffe-helper-ts/promtool"
mapfile -t files < <(find test -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency=2 "${files[@]}"
