/**
 * Filesystem end to end: a Lethe run over N expired rows with files, against a bare unlink loop over
 * the same number of files (the ceiling), measured in the same process and alternated (A B A B) so
 * write-back and cache effects fall on both sides. Prints files/s for each, the ratio of the
 * medians and each round's ratio (and the run's phase_ms with LETHE_BENCH_VERBOSE=1). The storage
 * workers are started before the timer (see warmWorkers). Figures: docs/performance.md.
 *
 *   UV_THREADPOOL_SIZE=16 node --import tsx bench/fs-end-to-end.bench.ts [N=100000] [rounds=2]
 *
 * Needs `pnpm build` (Lethe's workers run from packages/engine/dist).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { createEngine, type Engine } from '@lethe/engine';
import { createBenchDatabase, seedExpiredRows, prepareBenchDatabase } from './support/bench-database.js';
import { bareUnlink, createFiles } from './support/bench-files.js';
import { median } from './support/stats.js';

/** Engine options to try (LETHE_BENCH_OPTIONS='{"threads":2}'), for tuning experiments. */
function extraOptions(): Record<string, number> {
  return process.env.LETHE_BENCH_OPTIONS ? (JSON.parse(process.env.LETHE_BENCH_OPTIONS) as Record<string, number>) : {};
}

export interface FsBenchResult {
  readonly n: number;
  readonly letheFilesPerSecond: number;
  readonly bareFilesPerSecond: number;
  /** median(lethe) / median(bare). */
  readonly ratio: number;
  /** lethe / bare within each round (the two sides ran back to back), in round order. */
  readonly roundRatios: readonly number[];
  /** The lethe run's phase_ms, per round. */
  readonly phases: readonly Readonly<Record<string, number>>[];
}

/**
 * A daemon keeps its storage workers between runs: start them (and each one's adapter) before the
 * timer, so the figure is the steady-state rate rather than thread and module start-up.
 */
export async function warmWorkers(engine: Engine): Promise<void> {
  const storage = engine.storage();
  await Promise.all(Array.from({ length: engine.options.threads * 2 }, (_, i) => storage.deleteMany([`warm-up/${i}.absent`])));
}

export async function runFsBench(n: number, rounds: number, log: (line: string) => void = console.log): Promise<FsBenchResult> {
  const db = await createBenchDatabase('fs');
  const root = await mkdtemp(join(tmpdir(), 'lethe-bench-fs-'));
  let engine: Engine | undefined;
  let barePaths: string[] = [];
  const lethe: number[] = [];
  const bare: number[] = [];
  const phases: Record<string, number>[] = [];
  try {
    await prepareBenchDatabase(db);
    for (let round = 0; round < rounds; round++) {
      const bench = new Bench({ iterations: 1, time: 0, warmup: false, throws: true });
      const letheTask = (): [string, () => Promise<void>, object] => [
        'lethe run',
        async () => {
          const s = await engine!.run({ trigger: 'bench', allowLarge: true });
          if (s.deleted_count !== n || s.status !== 'completed') throw new Error(`lethe run deleted ${s.deleted_count}/${n} (${s.status})`);
          phases.push(Object.fromEntries(Object.entries(s.phase_ms).map(([k, v]) => [k, Math.round(v)])));
          if (process.env.LETHE_BENCH_VERBOSE) log(`  phases (ms): ${JSON.stringify(phases.at(-1))}`);
        },
        {
          beforeEach: async () => {
            await db.pool.query('TRUNCATE jobs, lethe_ledger');
            await seedExpiredRows(db.pool, n);
            await db.pool.query('ANALYZE jobs');
            await createFiles(root, n);
            engine = createEngine({ databaseUrl: db.url, storage: `file://${root}`, maxDeletesPerRun: 0, ...extraOptions() });
            await warmWorkers(engine);
          },
          afterEach: async () => {
            await engine?.close();
          },
        },
      ];
      const bareTask = (): [string, () => Promise<void>, object] => [
        'bare unlink loop',
        () => bareUnlink(barePaths),
        { beforeEach: async () => void (barePaths = await createFiles(root, n, 'bare')) },
      ];
      const tasks = round % 2 === 0 ? [letheTask(), bareTask()] : [bareTask(), letheTask()];
      for (const [name, fn, opts] of tasks) bench.add(name, fn, opts);
      await bench.run();
      for (const task of bench.tasks) {
        const r = task.result;
        if (r.state !== 'completed') throw new Error(`${task.name}: ${r.state}${'error' in r ? `: ${String(r.error)}` : ''}`);
        const perSecond = n / (r.latency.mean / 1000);
        (task.name === 'lethe run' ? lethe : bare).push(perSecond);
        log(`round ${round + 1} ${task.name}: ${Math.round(perSecond)} files/s (${(r.latency.mean / 1000).toFixed(2)} s)`);
      }
    }
  } finally {
    await engine?.close();
    await rm(root, { recursive: true, force: true });
    await db.drop();
  }
  const roundRatios = lethe.map((l, i) => l / bare[i]!);
  const result: FsBenchResult = {
    n,
    letheFilesPerSecond: median(lethe),
    bareFilesPerSecond: median(bare),
    ratio: median(lethe) / median(bare),
    roundRatios,
    phases,
  };
  log(
    `fs end-to-end, N=${n}, ${rounds} rounds: lethe ${Math.round(result.letheFilesPerSecond)} files/s, bare unlink ${Math.round(result.bareFilesPerSecond)} files/s, ratio ${result.ratio.toFixed(3)} (per round: ${roundRatios.map((r) => r.toFixed(2)).join(' ')})`,
  );
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const n = Number(process.argv[2] ?? 100_000);
  const rounds = Number(process.argv[3] ?? 2);
  await runFsBench(n, rounds);
}
