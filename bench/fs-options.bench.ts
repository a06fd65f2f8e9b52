/**
 * Filesystem engine options compared: Lethe runs with different option sets over the same number
 * of files, and the bare unlink loop, alternated within each round (the order rotates), so the
 * options are compared with each other in the same run. For tuning (docs/performance.md#filesystem-options-and-lethe-taken-apart-benchfs-optionsbenchts-tuning-not-ci), not for CI.
 *
 *   UV_THREADPOOL_SIZE=16 node --import tsx bench/fs-options.bench.ts [N=20000] [rounds=3] \
 *     '{"threads":1}' '{"threads":2}' ...
 *
 * A side may name another build of the engine, to compare an engine change with the code before
 * it in the same run: copy packages/engine/dist to packages/engine/.bench/<name>/dist (ignored by
 * git; inside the package so its dependencies resolve) and pass
 * '{"dist":"packages/engine/.bench/<name>/dist/index.js"}'.
 *
 * Named sides take Lethe apart: "pool" deletes the same files through the storage worker pool
 * alone (batches of 1000, 4 in flight, no database); "local" does the same with the file adapter
 * on this thread (no worker pool); "db-only" is a Lethe run whose storage answers `erased`
 * in-process (the database's part, no files); "inproc" is a Lethe run given the file adapter
 * itself as its storage port, so deletes run on the main thread instead of the worker pool.
 *
 * Needs `pnpm build`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createEngine, FileStorage, WorkerPoolStorage, type EngineOptions, type StoragePort } from '@lethe/engine';
import { warmWorkers } from './fs-end-to-end.bench.js';
import { createBenchDatabase, keyOf, seedExpiredRows, prepareBenchDatabase } from './support/bench-database.js';
import { mapLimit } from '@lethe/engine/testing';
import { bareUnlink, createFiles } from './support/bench-files.js';
import { ErasingStorage } from './support/fake-storage.js';
import { cpuSnapshot, cpuSpent } from './support/cpu.js';
import { median } from './support/stats.js';

const n = Number(process.argv[2] ?? 20_000);
const rounds = Number(process.argv[3] ?? 3);
type Side = Partial<EngineOptions> & { readonly dist?: string };
const NAMED = new Set(['pool', 'local', 'db-only', 'inproc']);
const sides = ['bare', ...(process.argv.length > 4 ? process.argv.slice(4) : ['{}']).map((a) => (NAMED.has(a) ? a : JSON.stringify(JSON.parse(a) as Side)))];
const rates = new Map<string, number[]>(sides.map((s) => [s, []]));
/** CPU microseconds per file: this process (all threads) + the database's backends. */
const cpuPerFile = new Map<string, number[]>(sides.map((s) => [s, []]));
const phaseLog = new Map<string, Record<string, number>[]>();

const db = await createBenchDatabase('fsopts');
const root = await mkdtemp(join(tmpdir(), 'lethe-bench-fsopts-'));
try {
  await prepareBenchDatabase(db);
  for (let round = 0; round < rounds; round++) {
    const order = sides.map((_, i) => sides[(i + round) % sides.length]!);
    for (const side of order) {
      let ms: number;
      let cpu: { processMs: number; databaseMs: number };
      if (side === 'bare') {
        const paths = await createFiles(root, n, 'bare');
        const before = await cpuSnapshot(db.pool, db.name);
        const started = performance.now();
        await bareUnlink(paths);
        ms = performance.now() - started;
        cpu = cpuSpent(before, await cpuSnapshot(db.pool, db.name));
      } else if (side === 'pool' || side === 'local') {
        await createFiles(root, n);
        const pool: StoragePort =
          side === 'pool' ? new WorkerPoolStorage({ kind: 'file', root, concurrency: 32 }, { threads: 2 }) : new FileStorage({ root, concurrency: 32 });
        try {
          await Promise.all([0, 1, 2, 3].map((i) => pool.deleteMany([`warm-up/${i}.absent`])));
          const batches = Array.from({ length: Math.ceil(n / 1000) }, (_, b) =>
            Array.from({ length: Math.min(1000, n - b * 1000) }, (_, i) => keyOf('f', b * 1000 + i)),
          );
          const before = await cpuSnapshot(db.pool, db.name);
          const started = performance.now();
          await mapLimit(batches, 4, (keys) => pool.deleteMany(keys));
          ms = performance.now() - started;
          cpu = cpuSpent(before, await cpuSnapshot(db.pool, db.name));
        } finally {
          await pool.close();
        }
      } else {
        await db.pool.query('TRUNCATE jobs, lethe_ledger');
        await seedExpiredRows(db.pool, n);
        await db.pool.query('ANALYZE jobs');
        const dbOnly = side === 'db-only';
        if (!dbOnly) await createFiles(root, n);
        const { dist, ...options } = NAMED.has(side) ? {} : (JSON.parse(side) as Side);
        const create = dist ? ((await import(pathToFileURL(resolve(dist)).href)) as { createEngine: typeof createEngine }).createEngine : createEngine;
        const storage = dbOnly ? new ErasingStorage() : side === 'inproc' ? new FileStorage({ root, concurrency: 64 }) : `file://${root}`;
        const engine = create({ databaseUrl: db.url, storage, maxDeletesPerRun: 0, ...options });
        try {
          await warmWorkers(engine);
          const before = await cpuSnapshot(db.pool, db.name);
          const started = performance.now();
          const s = await engine.run({ trigger: 'bench', allowLarge: true });
          ms = performance.now() - started;
          cpu = cpuSpent(before, await cpuSnapshot(db.pool, db.name));
          if (s.deleted_count !== n) throw new Error(`${side}: deleted ${s.deleted_count}/${n} (${s.status})`);
          const phases = Object.fromEntries(Object.entries(s.phase_ms).map(([k, v]) => [k, Math.round(v)]));
          phaseLog.set(side, [...(phaseLog.get(side) ?? []), phases]);
        } finally {
          await engine.close();
        }
      }
      rates.get(side)!.push(n / (ms / 1000));
      cpuPerFile.get(side)!.push(((cpu.processMs + cpu.databaseMs) * 1000) / n);
      console.log(
        `round ${round + 1} ${side}: ${Math.round(n / (ms / 1000))} files/s; CPU ${Math.round(cpu.processMs)} ms here + ${Math.round(cpu.databaseMs)} ms in Postgres`,
      );
    }
  }
} finally {
  await rm(root, { recursive: true, force: true });
  await db.drop();
}
const bare = median(rates.get('bare')!);
console.log(`\nN=${n}, ${rounds} rounds, medians:`);
for (const side of sides) {
  const r = median(rates.get(side)!);
  console.log(
    `  ${side.padEnd(40)} ${String(Math.round(r)).padStart(6)} files/s  ratio ${(r / bare).toFixed(3)}  CPU ${median(cpuPerFile.get(side)!).toFixed(0)} µs/file`,
  );
  for (const p of phaseLog.get(side) ?? []) console.log(`      ${JSON.stringify(p)}`);
}
