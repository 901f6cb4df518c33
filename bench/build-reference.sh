#!/usr/bin/env bash
# Build (once) the Go spiffe-helper that `npm run bench -- --reference <binary>` compares against.
#
#   bench/build-reference.sh          build if not yet built; the last line on stdout is the
#                                     binary's path; progress goes to stderr. Exit 3 with a
#                                     one-line reason if no tag could be built.
#
# How (the same way scripts/spire.sh builds SPIRE):
#   go mod download -json github.com/spiffe/spiffe-helper@<tag>   (-> "Dir" in the module cache)
#   (cd <Dir> && go build -o <cache>/spiffe-helper ./cmd/spiffe-helper)
# `go install github.com/spiffe/spiffe-helper/cmd/spiffe-helper@v0.11.0` is NOT used: it fails
# here with "loading deprecation for github.com/spiffe/spiffe-helper: ... /@v/list: 403 Forbidden"
# (the module proxy refuses version lists).
#
# The binary lands OUTSIDE the repo:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/spiffe-helper-ts/go-spiffe-helper-<tag>/spiffe-helper
#
# Environment:
#   REFERENCE_TAGS  exact tags to try, newest first, one try each (default below; v0.10.1 is
#                   refused by the proxy with 403 "This module version is not available")
set -euo pipefail

TAGS="${REFERENCE_TAGS:-v0.11.0 v0.10.1 v0.10.0 v0.9.1 v0.9.0 v0.8.0}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/spiffe-helper-ts"
MODULE=github.com/spiffe/spiffe-helper

log() { printf 'build-reference: %s\n' "$*" >&2; }
json_field() { sed -n "s/^[[:space:]]*\"$1\": \"\(.*\)\",\{0,1\}\$/\1/p" | head -n1; }

for t in $TAGS; do
  bin="$CACHE_ROOT/go-spiffe-helper-$t/spiffe-helper"
  if [[ -x "$bin" ]]; then
    log "already built: $bin"
    printf '%s\n' "$bin"
    exit 0
  fi
done

if ! command -v go >/dev/null 2>&1; then
  echo "build-reference: no 'go' toolchain on PATH: cannot build the Go spiffe-helper" >&2
  exit 3
fi

reason="no tags to try"
for t in $TAGS; do
  log "trying $MODULE@$t"
  if ! out="$(cd / && GOTOOLCHAIN=local go mod download -json "$MODULE@$t" 2>&1)"; then
    err="$(printf '%s\n' "$out" | json_field Error)"
    reason="$t: go mod download refused: ${err%%\\n*}"
    log "$reason"
    continue
  fi
  dir="$(printf '%s\n' "$out" | json_field Dir)"
  if [[ -z "$dir" || ! -d "$dir/cmd/spiffe-helper" ]]; then
    reason="$t: go mod download gave no usable Dir"
    log "$reason"
    continue
  fi
  dest="$CACHE_ROOT/go-spiffe-helper-$t"
  mkdir -p "$dest"
  tmp="$(mktemp "$dest/spiffe-helper.tmp.XXXXXX")"
  log "go build ./cmd/spiffe-helper in $dir"
  start=$(date +%s)
  if ! (cd "$dir" && GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0 go build -o "$tmp" ./cmd/spiffe-helper) >&2; then
    rm -f "$tmp"
    reason="$t: go build failed"
    log "$reason"
    continue
  fi
  mv -f "$tmp" "$dest/spiffe-helper"
  log "built $MODULE $t in $(( $(date +%s) - start )) s: $dest/spiffe-helper"
  printf '%s\n' "$dest/spiffe-helper"
  exit 0
done
echo "build-reference: every tag failed ($TAGS); last: $reason" >&2
exit 3
