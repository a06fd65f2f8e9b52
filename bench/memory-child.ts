/**
 * One Lethe run in a fresh process, for bench/memory.bench.ts: runs over the expired rows that the
 * parent prepared and prints one JSON line with this process's peak RSS
 * (`process.resourceUsage().maxRSS`, KiB) and the run's figures.
 *
 *   node --import tsx bench/memory-child.ts <databaseUrl> <expectedRows>
 *
 * Storage is in-process and answers `erased` for every key (bench/support/fake-storage.ts): the
 * question is whether the pipeline's memory (cursor, batches in flight, outcome statements,
 * summary) follows the backlog, and storage adapters hold one batch at a time whatever the backlog.
 */
import { createEngine } from '@lethe/engine';
import { ErasingStorage } from './support/fake-storage.js';

export interface MemoryChildReport {
  readonly rows: number;
  readonly maxRssKiB: number;
  /** RSS before the run (modules loaded, engine created): the floor both sizes share. */
  readonly startRssKiB: number;
  readonly heapUsedKiB: number;
  readonly runMs: number;
}

const [databaseUrl, expectedText] = process.argv.slice(2);
if (!databaseUrl || !expectedText) throw new Error('usage: memory-child.ts <databaseUrl> <expectedRows>');
const expected = Number(expectedText);
const engine = createEngine({ databaseUrl, storage: new ErasingStorage(), maxDeletesPerRun: 0 });
try {
  const startRssKiB = Math.round(process.memoryUsage().rss / 1024);
  const started = performance.now();
  const s = await engine.run({ trigger: 'bench', allowLarge: true });
  const runMs = performance.now() - started;
  if (s.status !== 'completed' || s.deleted_count !== expected)
    throw new Error(`run deleted ${s.deleted_count}/${expected} (${s.status}${s.error ? `: ${s.error.message}` : ''})`);
  const report: MemoryChildReport = {
    rows: s.deleted_count,
    maxRssKiB: process.resourceUsage().maxRSS,
    startRssKiB,
    heapUsedKiB: Math.round(process.memoryUsage().heapUsed / 1024),
    runMs: Math.round(runMs),
  };
  console.log(JSON.stringify(report));
} finally {
  await engine.close();
}
