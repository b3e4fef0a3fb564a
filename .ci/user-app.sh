#!/usr/bin/env bash
# Packs every package and installs the tarballs into a fresh app in a temporary
# folder outside the repository (no workspace, no links), as a user would; then
# typechecks that app with strict flags (tsconfig.json here) and runs the README's
# two programs on every backend under `bun run` and `bun test` (app.test.ts).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/multiproc-user-app.XXXXXX)"
trap 'rm -rf "$work"' EXIT

mkdir "$work/app"
bash "$repo/scripts/pack.sh" "$work/packs" >/dev/null
cp "$repo/.ci/user-app/"{package.json,tsconfig.json,bunfig.toml,app.test.ts} "$work/app/"
# The README's programs: the first TypeScript block under each of two headings.
readme_block() {
  awk -v h="$1" '$0 == h { on = 1; next } /^## / { on = 0 } on && /^```ts$/ { keep = 1; next } keep && /^```$/ { exit } keep' "$repo/README.md"
}
readme_block "## A first program" > "$work/app/hello.ts"
readme_block "## A pool of workers" > "$work/app/pool.ts"
[ -s "$work/app/hello.ts" ] && [ -s "$work/app/pool.ts" ] || { echo "user app: README's programs not found"; exit 1; }

cd "$work/app"
bun add "$work"/packs/*.tgz >/dev/null
bun add -d typescript@5.9.3 @types/bun@1.4.5 >/dev/null
echo "user app: $(ls node_modules/@multiproc | tr '\n' ' ')in $work/app"
bunx tsc -p . || { echo "user app: typecheck failed"; exit 1; }
echo "user app: typecheck (strict, exactOptionalPropertyTypes, noPropertyAccessFromIndexSignature, noUncheckedIndexedAccess): 0 errors"
bun test --timeout 60000
