#!/usr/bin/env bash
# Packs every package and installs the tarballs into a fresh app in a temporary
# folder outside the repository (no workspace, no links), as a user would; then
# typechecks that app with strict flags (tsconfig.json here) and runs the README's
# two programs on every backend under `bun run` and `bun test` (app.test.ts).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/multiproc-user-app.XXXXXX)"
trap 'rm -rf "$work"' EXIT

bun run --cwd "$repo" build >/dev/null
mkdir "$work/packs" "$work/app"
for p in core backend-fork backend-spawn backend-worker; do
  (cd "$repo/packages/$p" && bun pm pack --quiet --destination "$work/packs" >/dev/null)
done
cp "$repo/.ci/user-app/"{package.json,tsconfig.json,bunfig.toml,app.test.ts} "$work/app/"
# The README's first two TypeScript blocks: "A first program" and "A pool of workers".
awk '/^```ts$/ { n++; keep = 1; next } /^```$/ { keep = 0 } keep && n == 1' "$repo/README.md" > "$work/app/hello.ts"
awk '/^```ts$/ { n++; keep = 1; next } /^```$/ { keep = 0 } keep && n == 2' "$repo/README.md" > "$work/app/pool.ts"

cd "$work/app"
bun add "$work"/packs/*.tgz >/dev/null
bun add -d typescript@5.9.3 @types/bun@1.4.5 >/dev/null
echo "user app: $(ls node_modules/@multiproc | tr '\n' ' ')in $work/app"
bunx tsc -p . || { echo "user app: typecheck failed"; exit 1; }
echo "user app: typecheck (strict, exactOptionalPropertyTypes, noPropertyAccessFromIndexSignature, noUncheckedIndexedAccess): 0 errors"
bun test --timeout 60000
