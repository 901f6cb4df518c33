#!/usr/bin/env bash
# Build (once) and locate the SPIRE server and agent used by the real-SPIRE tests.
#
#   scripts/spire.sh install   build spire-server + spire-agent if not yet built; the last line
#                              on stdout is the bin dir; progress goes to stderr.
#                              Exit 3 with a one-line reason if SPIRE cannot be had.
#   scripts/spire.sh bin-dir   print the bin dir (exit 0 if both binaries are there, else 1).
#
# The binaries are built from the Go module proxy with the local Go toolchain:
#   go mod download -json github.com/spiffe/spire@<tag>   (-> "Dir" in the module cache)
#   (cd <Dir> && go build -o <bin dir>/ ./cmd/spire-server ./cmd/spire-agent)
# `go install ...@<tag>` is NOT used: it asks the proxy for the version list, which some
# proxies refuse (403).
#
# Everything lands OUTSIDE the repo (never commit SPIRE binaries or sources):
#   ${XDG_CACHE_HOME:-$HOME/.cache}/spiffe-helper-ts/spire-<tag>/bin
#
# Environment:
#   SPIRE_BIN_DIR  use this dir (must hold spire-server and spire-agent, or is built into)
#   SPIRE_TAGS     exact tags to try, newest first, one try each (default below)
set -euo pipefail

DEFAULT_TAGS="v1.14.1 v1.13.3"   # v1.13.3 is the known good one; the harness is tested with it
TAGS="${SPIRE_TAGS:-$DEFAULT_TAGS}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/spiffe-helper-ts"

log() { printf 'spire.sh: %s\n' "$*" >&2; }

has_bins() { [[ -x "$1/spire-server" && -x "$1/spire-agent" ]]; }

tag_dir() { printf '%s/spire-%s/bin' "$CACHE_ROOT" "$1"; }

# The bin dir of an existing install, if any (SPIRE_BIN_DIR wins; else the newest tag built).
find_installed() {
  if [[ -n "${SPIRE_BIN_DIR:-}" ]]; then
    has_bins "$SPIRE_BIN_DIR" && { printf '%s\n' "$SPIRE_BIN_DIR"; return 0; }
    return 1
  fi
  local t d
  for t in $TAGS; do
    d="$(tag_dir "$t")"
    has_bins "$d" && { printf '%s\n' "$d"; return 0; }
  done
  return 1
}

# The dir that would be used if nothing is installed yet.
preferred_dir() {
  if [[ -n "${SPIRE_BIN_DIR:-}" ]]; then printf '%s\n' "$SPIRE_BIN_DIR"; return; fi
  local first
  read -r first _ <<<"$TAGS"
  tag_dir "$first"
}

# Extract "Dir" from `go mod download -json` output without needing jq.
json_dir() { sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n1; }
json_err() { sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p' | head -n1; }

try_tag() { # $1 tag, $2 destination bin dir; on failure sets LAST_REASON
  local tag="$1" dest="$2" out dir err tmp start end
  log "trying github.com/spiffe/spire@$tag"
  if ! out="$(cd / && GOTOOLCHAIN=local go mod download -json "github.com/spiffe/spire@$tag" 2>&1)"; then
    err="$(printf '%s\n' "$out" | json_err)"
    err="${err%%\\n*}"
    LAST_REASON="$tag: go mod download refused: ${err:-$(printf '%s' "$out" | tail -n1)}"
    log "$LAST_REASON"
    return 1
  fi
  dir="$(printf '%s\n' "$out" | json_dir)"
  if [[ -z "$dir" || ! -d "$dir/cmd/spire-server" ]]; then
    LAST_REASON="$tag: go mod download gave no usable Dir"
    log "$LAST_REASON"
    return 1
  fi
  mkdir -p "$(dirname "$dest")"
  tmp="$(mktemp -d "$(dirname "$dest")/bin.tmp.XXXXXX")"
  log "building spire-server and spire-agent from $dir (several minutes the first time)"
  start=$(date +%s)
  if ! (cd "$dir" && GOTOOLCHAIN=local GOFLAGS="-buildvcs=false" CGO_ENABLED=1 \
        go build -o "$tmp/" ./cmd/spire-server ./cmd/spire-agent) >&2; then
    rm -rf "$tmp"
    LAST_REASON="$tag: go build failed"
    log "$LAST_REASON"
    return 1
  fi
  end=$(date +%s)
  # Rename the two binaries into place (same filesystem: atomic); never delete $dest itself,
  # which may be a user's SPIRE_BIN_DIR.
  mkdir -p "$dest"
  mv -f "$tmp/spire-server" "$tmp/spire-agent" "$dest/"
  rmdir "$tmp"
  log "built SPIRE $tag in $((end - start)) s into $dest"
  return 0
}

cmd_install() {
  local d
  if d="$(find_installed)"; then
    log "SPIRE already installed in $d"
    printf '%s\n' "$d"
    return 0
  fi
  if ! command -v go >/dev/null 2>&1; then
    echo "spire.sh: cannot build SPIRE: no 'go' toolchain on PATH" >&2
    exit 3
  fi
  mkdir -p "$CACHE_ROOT"
  # One build at a time (parallel test files may all ask for SPIRE).
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$CACHE_ROOT/.install.lock"
    flock 9
  fi
  if d="$(find_installed)"; then   # someone else built it while we waited
    log "SPIRE already installed in $d"
    printf '%s\n' "$d"
    return 0
  fi
  local t dest
  LAST_REASON="no tags to try"
  for t in $TAGS; do
    if [[ -n "${SPIRE_BIN_DIR:-}" ]]; then dest="$SPIRE_BIN_DIR"; else dest="$(tag_dir "$t")"; fi
    if try_tag "$t" "$dest"; then
      printf '%s\n' "$dest"
      return 0
    fi
  done
  echo "spire.sh: SPIRE unavailable: every tag failed ($TAGS); last: $LAST_REASON" >&2
  exit 3
}

cmd_bin_dir() {
  local d
  if d="$(find_installed)"; then printf '%s\n' "$d"; return 0; fi
  preferred_dir
  return 1
}

case "${1:-}" in
  install) cmd_install ;;
  bin-dir) cmd_bin_dir ;;
  *) echo "usage: $0 install|bin-dir" >&2; exit 2 ;;
esac
