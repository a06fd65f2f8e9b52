/**
 * One Lethe run over rows and files that a parent prepared (bench/profile/fs-profile.ts), alone in
 * its process so that `node --cpu-prof` sees the run and nothing else. Prints the summary's
 * figures as one JSON line, with the run's window on the profiler's clock (CLOCK_MONOTONIC, µs).
 *
 *   node --cpu-prof --import tsx bench/profile/fs-run-child.ts <databaseUrl> <root> <n>
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createEngine as builtEngine, type EngineOptions } from '@lethe/engine';
import { warmWorkers } from '../fs-end-to-end.bench.js';

const [databaseUrl, root, nText] = process.argv.slice(2);
if (!databaseUrl || !root || !nText) throw new Error('usage: fs-run-child.ts <databaseUrl> <root> <n>');
const extra = process.env.LETHE_BENCH_OPTIONS ? (JSON.parse(process.env.LETHE_BENCH_OPTIONS) as Partial<EngineOptions>) : {};
// LETHE_BENCH_ENGINE_DIST: another build's index.js (bench/profile/build-engine-variant.sh), to profile before and after a change.
const dist = process.env.LETHE_BENCH_ENGINE_DIST;
const createEngine = dist ? ((await import(pathToFileURL(resolve(dist)).href)) as { createEngine: typeof builtEngine }).createEngine : builtEngine;
const engine = createEngine({ databaseUrl, storage: `file://${root}`, maxDeletesPerRun: 0, ...extra });
try {
  await warmWorkers(engine);
  const startUs = Number(process.hrtime.bigint() / 1000n);
  const started = performance.now();
  const s = await engine.run({ trigger: 'bench', allowLarge: true });
  const ms = performance.now() - started;
  const endUs = Number(process.hrtime.bigint() / 1000n);
  if (s.deleted_count !== Number(nText) || s.status !== 'completed') throw new Error(`run deleted ${s.deleted_count}/${nText} (${s.status})`);
  console.log(
    JSON.stringify({ window: `${startUs}:${endUs}`, ms: Math.round(ms), filesPerSecond: Math.round(s.deleted_count / (ms / 1000)), phase_ms: s.phase_ms }),
  );
} finally {
  await engine.close();
}
