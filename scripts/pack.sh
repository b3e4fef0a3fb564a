#!/usr/bin/env bash
# Builds every package and packs it into DEST (default: ./packs), as `bun pm pack`
# would publish it: the tarballs install together into any app (`bun add ./packs/*.tgz`).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
dest="$(mkdir -p "${1:-$repo/packs}" && cd "${1:-$repo/packs}" && pwd)"
bun run --cwd "$repo" build >/dev/null
for p in core backend-fork backend-spawn backend-worker cluster; do
  (cd "$repo/packages/$p" && bun pm pack --quiet --destination "$dest" >/dev/null)
done
ls "$dest"/multiproc-*.tgz
