/**
 * The old method, for the record (runbook FM-004's "fix"): load every expired row into memory,
 * then for each 100 of them delete the files one at a time and the rows one at a time, commit, and
 * sleep 1 s. Against a Lethe run over files of the same kind. Both are measured here, alternated
 * (old lethe, then lethe old); the speed-up is Lethe's files/s over the old method's files/s.
 *
 *   UV_THREADPOOL_SIZE=16 node --import tsx bench/old-method.bench.ts [oldN=1000] [letheN=20000] [rounds=2]
 *
 * The old method's sleep dominates (1 s per 100 files: at best 100 files/s), so it is measured at a
 * small N and compared by rate; Lethe runs at a larger N, where its fixed costs (lock, cutoff,
 * run record) do not hide its rate. Both times are printed. Needs `pnpm build`.
 */
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { Bench } from 'tinybench';
import { createEngine, type Engine } from '@lethe/engine';
import { warmWorkers } from './fs-end-to-end.bench.js';
import { createBenchDatabase, seedExpiredRows, prepareBenchDatabase } from './support/bench-database.js';
import { createFiles } from './support/bench-files.js';
import { median } from './support/stats.js';

export interface OldMethodBenchResult {
  readonly oldN: number;
  readonly letheN: number;
  readonly oldFilesPerSecond: number;
  readonly letheFilesPerSecond: number;
  /** Lethe's files/s over the old method's (guard: at least its threshold). */
  readonly speedup: number;
  /** Median time of the old method, and how much of it was its sleep. */
  readonly oldSeconds: number;
  readonly oldSleepSeconds: number;
  readonly letheSeconds: number;
}

const OLD_BATCH = 100;
const OLD_SLEEP_MS = 1000;
/** The retentions the old service hard-coded (the runbook's five). */
const OLD_RETENTIONS: Readonly<Record<string, string>> = {
  'System Testing': '24 hours',
  General: '30 days',
  Financial: '1 year',
  Legal: '7 years',
  Medical: '10 years',
};

/** The old service's cleanup_expired_jobs, as the runbook shows it (with FM-004's batching and sleep). */
export async function oldMethod(pool: pg.Pool, root: string): Promise<{ deleted: number; sleptMs: number }> {
  let deleted = 0;
  let sleptMs = 0;
  for (const [purpose, retention] of Object.entries(OLD_RETENTIONS)) {
    // `db.query(Job).filter(...).all()`: every expired row, every column, in memory at once.
    const { rows } = await pool.query<{ id: string; file_key: string }>(
      `SELECT * FROM jobs WHERE purpose_code = $1 AND created_at < (now() AT TIME ZONE 'UTC') - $2::interval`,
      [purpose, retention],
    );
    for (let i = 0; i < rows.length; i += OLD_BATCH) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        for (const job of rows.slice(i, i + OLD_BATCH)) {
          // os.remove, one file at a time; a missing file is skipped.
          await unlink(join(root, job.file_key)).catch((e: NodeJS.ErrnoException) => {
            if (e.code !== 'ENOENT') throw e;
          });
          await client.query('DELETE FROM jobs WHERE id = $1', [job.id]);
          deleted++;
        }
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      const t = performance.now();
      await sleep(OLD_SLEEP_MS);
      sleptMs += performance.now() - t;
    }
  }
  return { deleted, sleptMs };
}

type Task = [name: string, fn: () => Promise<void>, opts: { beforeEach: () => Promise<void>; afterEach?: () => Promise<void> }];

export async function runOldMethodBench(
  oldN: number,
  letheN: number,
  rounds: number,
  log: (line: string) => void = console.log,
): Promise<OldMethodBenchResult> {
  const db = await createBenchDatabase('old');
  const root = await mkdtemp(join(tmpdir(), 'lethe-bench-old-'));
  const times = { old: [] as number[], lethe: [] as number[], slept: [] as number[] };
  let engine: Engine | undefined;
  try {
    await prepareBenchDatabase(db);
    const seed = async (n: number): Promise<void> => {
      await db.pool.query('TRUNCATE jobs, lethe_ledger');
      await seedExpiredRows(db.pool, n);
      await db.pool.query('ANALYZE jobs');
      await createFiles(root, n);
    };
    let slept = 0;
    const old: Task = [
      'old method',
      async () => {
        const r = await oldMethod(db.pool, root);
        if (r.deleted !== oldN) throw new Error(`old method deleted ${r.deleted}/${oldN}`);
        slept = r.sleptMs;
      },
      { beforeEach: () => seed(oldN), afterEach: async () => void times.slept.push(slept) },
    ];
    const lethe: Task = [
      'lethe',
      async () => {
        const s = await engine!.run({ trigger: 'bench', allowLarge: true });
        if (s.status !== 'completed' || s.deleted_count !== letheN) throw new Error(`lethe run deleted ${s.deleted_count}/${letheN} (${s.status})`);
      },
      {
        beforeEach: async () => {
          await seed(letheN);
          engine = createEngine({ databaseUrl: db.url, storage: `file://${root}`, maxDeletesPerRun: 0 });
          await warmWorkers(engine);
        },
        afterEach: async () => engine?.close(),
      },
    ];
    for (let round = 0; round < rounds; round++) {
      const bench = new Bench({ iterations: 1, time: 0, warmup: false, throws: true });
      for (const [name, fn, opts] of round % 2 === 0 ? [old, lethe] : [lethe, old]) bench.add(name, fn, opts);
      await bench.run();
      for (const task of bench.tasks) {
        const r = task.result;
        if (r.state !== 'completed') throw new Error(`${task.name}: ${r.state}${'error' in r ? `: ${String(r.error)}` : ''}`);
        const n = task.name === 'lethe' ? letheN : oldN;
        (task.name === 'lethe' ? times.lethe : times.old).push(r.latency.mean);
        log(`round ${round + 1} ${task.name}: ${n} files in ${(r.latency.mean / 1000).toFixed(2)} s (${Math.round(n / (r.latency.mean / 1000))} files/s)`);
      }
    }
  } finally {
    await engine?.close();
    await rm(root, { recursive: true, force: true });
    await db.drop();
  }
  const oldMs = median(times.old);
  const letheMs = median(times.lethe);
  const oldRate = oldN / (oldMs / 1000);
  const letheRate = letheN / (letheMs / 1000);
  const result: OldMethodBenchResult = {
    oldN,
    letheN,
    oldFilesPerSecond: oldRate,
    letheFilesPerSecond: letheRate,
    speedup: letheRate / oldRate,
    oldSeconds: oldMs / 1000,
    oldSleepSeconds: median(times.slept) / 1000,
    letheSeconds: letheMs / 1000,
  };
  log(`old method vs lethe, ${rounds} rounds, medians:`);
  log(
    `  old method: ${oldN} files in ${result.oldSeconds.toFixed(2)} s, of which ${result.oldSleepSeconds.toFixed(2)} s asleep: ${oldRate.toFixed(1)} files/s`,
  );
  log(`  lethe:      ${letheN} files in ${result.letheSeconds.toFixed(2)} s: ${Math.round(letheRate)} files/s`);
  log(`  speed-up ${result.speedup.toFixed(1)}x (the old method would take ${(letheN / oldRate).toFixed(0)} s for Lethe's ${letheN} files)`);
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const oldN = Number(process.argv[2] ?? 1000);
  const letheN = Number(process.argv[3] ?? 20_000);
  const rounds = Number(process.argv[4] ?? 2);
  await runOldMethodBench(oldN, letheN, rounds);
}
