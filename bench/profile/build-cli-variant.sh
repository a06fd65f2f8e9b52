#!/usr/bin/env bash
# Builds the `lethe` CLI (bundle and all) with what-if patches applied to the engine, in a clone of
# this checkout's HEAD, and prints the clone's bin: for bench/peers-s3.bench.ts's lethe-base side.
# Never in this tree: turbo's cache would restore the unpatched build's files over the patched
# one's without removing the patched chunks, and the two builds would mix.
#
#   LETHE_BENCH_BASELINE_BIN=$(bench/profile/build-cli-variant.sh no-both \
#     bench/profile/variants/no-ledger.patch bench/profile/variants/no-recheck.patch)
#
# Patches are relative to packages/engine/src (docs/performance.md#peers-what-if). The clone lives
# in ${TMPDIR:-/tmp}/lethe-cli-variant-<name>; delete it when done.
set -euo pipefail
cd "$(dirname "$0")/../.."
name=$1
shift
dir=${TMPDIR:-/tmp}/lethe-cli-variant-$name
rm -rf "$dir"
git clone -q . "$dir"
for p in "$@"; do git -C "$dir" apply -p1 --directory=packages/engine/src "$PWD/$p"; done
(cd "$dir" && pnpm install --frozen-lockfile --offline >/dev/null && pnpm run build >/dev/null)
echo "$dir/packages/cli/bin/lethe.js"
