#!/usr/bin/env bash
# Builds a second copy of the engine for same-run A/B comparisons (bench/fs-options.bench.ts
# '{"dist":"packages/engine/.bench/<name>/dist/index.js"}'): today's working tree of
# packages/engine/src, with the listed files taken from a git revision instead.
#
#   bench/profile/build-engine-variant.sh <name> <rev> [src-relative files...]
#   e.g. bench/profile/build-engine-variant.sh before HEAD pipeline.ts ledger.ts storage/fs.ts
#
# With LETHE_BENCH_PATCHES="a.patch b.patch" the patches (paths relative to packages/engine/src,
# as `git diff --relative=packages/engine/src` writes them) are applied to the copy as well: the
# what-if variants of bench/profile/variants/ (docs/performance.md#peers-what-if).
#
# The copy lives in packages/engine/.bench/<name>/ (inside the package so its dependencies
# resolve; ignored by git through "dist/"); delete packages/engine/.bench when done.
set -euo pipefail
cd "$(dirname "$0")/../.."
name=$1 rev=$2
shift 2
dir=packages/engine/.bench/$name
rm -rf "$dir"
mkdir -p "$dir"
cp -r packages/engine/src "$dir/src"
for f in "$@"; do git show "$rev:packages/engine/src/$f" > "$dir/src/$f"; done
for p in ${LETHE_BENCH_PATCHES:-}; do git apply -p1 --directory="$dir/src" "$p"; done
cat > "$dir/tsconfig.json" <<JSON
{ "extends": "../../../../tsconfig.base.json", "compilerOptions": { "rootDir": "src", "outDir": "dist" }, "include": ["src"], "exclude": ["src/**/*.test.ts"] }
JSON
node_modules/.bin/tsc -p "$dir/tsconfig.json"
rm -rf "$dir/src" "$dir/tsconfig.json"
echo "built $dir/dist (files from $rev: ${*:-none}; patches: ${LETHE_BENCH_PATCHES:-none})"
