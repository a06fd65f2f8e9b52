/**
 * Memory (docs/performance.md#memory-benchmemorybenchts--benchmemory-childts, DESIGN invariant 7): peak RSS of a run over a large backlog against a run over
 * a small one, each in a fresh child process (bench/memory-child.ts), alternated over rounds
 * (small large, then large small). Goal: 1M expired rows at most 1.2x the peak of 100k.
 *
 *   node --import tsx bench/memory.bench.ts [smallN=100000] [largeN=1000000] [rounds=2]
 *
 * The parent seeds the rows (server-side INSERT ... SELECT, no client memory) and the child only
 * runs; its storage answers `erased` without touching anything (see memory-child.ts), so the
 * figure is the pipeline's memory. Needs `pnpm build`.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { MemoryChildReport } from './memory-child.js';
import { createBenchDatabase, seedExpiredRows, prepareBenchDatabase } from './support/bench-database.js';
import { median } from './support/stats.js';

export interface MemoryBenchResult {
  readonly smallN: number;
  readonly largeN: number;
  /** Median peak RSS (MiB) of the child runs of each size. */
  readonly smallMaxRssMiB: number;
  readonly largeMaxRssMiB: number;
  /** largeMaxRssMiB / smallMaxRssMiB (guard: at most its threshold). */
  readonly ratio: number;
  /**
   * The same for the growth during the run (peak minus RSS before it): the ~95 MiB both sizes share
   * (Node, tsx, pg, the engine) dilutes `ratio`; this one would show a per-row leak sooner.
   */
  readonly growthRatio: number;
  readonly reports: readonly MemoryChildReport[];
}

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('./memory-child.ts', import.meta.url));

async function runChild(databaseUrl: string, n: number): Promise<MemoryChildReport> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', CHILD, databaseUrl, String(n)], { maxBuffer: 1 << 20, timeout: 15 * 60_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as MemoryChildReport;
}

export async function runMemoryBench(smallN: number, largeN: number, rounds: number, log: (line: string) => void = console.log): Promise<MemoryBenchResult> {
  const db = await createBenchDatabase('memory');
  const reports: MemoryChildReport[] = [];
  const peaks = new Map<number, number[]>([
    [smallN, []],
    [largeN, []],
  ]);
  const growths = new Map<number, number[]>([
    [smallN, []],
    [largeN, []],
  ]);
  try {
    await prepareBenchDatabase(db);
    for (let round = 0; round < rounds; round++) {
      for (const n of round % 2 === 0 ? [smallN, largeN] : [largeN, smallN]) {
        await db.pool.query('TRUNCATE jobs, lethe_ledger');
        await seedExpiredRows(db.pool, n);
        await db.pool.query('ANALYZE jobs');
        const r = await runChild(db.url, n);
        reports.push(r);
        peaks.get(n)!.push(r.maxRssKiB / 1024);
        growths.get(n)!.push((r.maxRssKiB - r.startRssKiB) / 1024);
        log(
          `round ${round + 1} ${n} rows: peak RSS ${(r.maxRssKiB / 1024).toFixed(1)} MiB (before the run ${(r.startRssKiB / 1024).toFixed(1)} MiB, heap at the end ${(r.heapUsedKiB / 1024).toFixed(1)} MiB), run ${(r.runMs / 1000).toFixed(1)} s`,
        );
      }
    }
  } finally {
    await db.drop();
  }
  const small = median(peaks.get(smallN)!);
  const large = median(peaks.get(largeN)!);
  const [smallGrowth, largeGrowth] = [median(growths.get(smallN)!), median(growths.get(largeN)!)];
  const result: MemoryBenchResult = {
    smallN,
    largeN,
    smallMaxRssMiB: small,
    largeMaxRssMiB: large,
    ratio: large / small,
    growthRatio: largeGrowth / smallGrowth,
    reports,
  };
  log(
    `memory, ${rounds} rounds, medians: ${largeN} rows peak ${large.toFixed(1)} MiB, ${smallN} rows peak ${small.toFixed(1)} MiB, ratio ${result.ratio.toFixed(3)} (goal <= 1.2)`,
  );
  log(
    `  growth during the run: ${largeGrowth.toFixed(1)} MiB vs ${smallGrowth.toFixed(1)} MiB (${result.growthRatio.toFixed(2)}x for ${(largeN / smallN).toFixed(0)}x the rows)`,
  );
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const smallN = Number(process.argv[2] ?? 100_000);
  const largeN = Number(process.argv[3] ?? 1_000_000);
  const rounds = Number(process.argv[4] ?? 2);
  await runMemoryBench(smallN, largeN, rounds);
}
