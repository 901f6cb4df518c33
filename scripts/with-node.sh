#!/usr/bin/env bash
# Runs a command with the project's pinned Node (scripts/node.sh) first in PATH, so that `node`,
# bin/spiffe-helper and everything they start use it: `bash scripts/with-node.sh node bench/run.mjs`.
set -euo pipefail
bin=$(bash "$(dirname "$0")/node.sh")
PATH="$bin:$PATH" exec "$@"
