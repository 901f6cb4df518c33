#!/usr/bin/env bash
# What the tests need beyond npm packages: real consumers from Debian (openssl, nginx, promtool).
# Idempotent; quick when everything is present.
set -euo pipefail
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v systemd-analyze >/dev/null || need+=(systemd) # test/examples.test.ts: the unit's exposure
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  echo "install-test-deps: installing ${need[*]} from Debian" >&2
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# promtool, for the /metrics lint: only the binary, unpacked from Debian's prometheus package into a
# cache outside the repo. Installing the package would also install (and, under systemd, start) a
# Prometheus server listening on every interface. scripts/test.sh puts this dir on PATH.
promtool_dir="${XDG_CACHE_HOME:-$HOME/.cache}/spiffe-helper-ts/promtool"
if ! command -v promtool >/dev/null && [ ! -x "$promtool_dir/promtool" ]; then
  echo "install-test-deps: unpacking promtool from Debian's prometheus package" >&2
  tmp=$(mktemp -d)
  (cd "$tmp" && { apt-get download prometheus >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get download prometheus >/dev/null; }; } \
    && dpkg-deb -x prometheus_*.deb x && mkdir -p "$promtool_dir" && mv x/usr/bin/promtool "$promtool_dir/promtool")
  rm -rf "$tmp"
fi
# SPIRE for the integration tests, built from the Go module proxy into a cache outside the repo
# (about 9 minutes cold on 2 cores, instant when cached). Without Go the SPIRE tests skip, saying why.
if command -v go >/dev/null && [ "${SPIRE_TESTS:-1}" != 0 ]; then
  bash "$(dirname "$0")/spire.sh" install >/dev/null || echo "install-test-deps: SPIRE could not be built; its tests will skip" >&2
fi
