/**
 * S3 end to end (docs/storage-s3.md#tests-and-benchmark): a Lethe run over N expired rows whose objects live on a local S3
 * server, against
 *   - a bare DeleteObjects loop over N objects (1000 keys a request, as many requests in flight
 *     as the run has: one per worker thread): the ceiling;
 *   - a per-object DeleteObject loop at concurrency 16 (what `aws s3 rm` and rclone do), over
 *     fewer objects (it is about 50x slower), compared by rate.
 * Sides alternate (A B C, then C B A); each round puts fresh objects for every side first, then
 * times the sides back to back. Prints keys/s for each side, each round's ratios, and the ratios
 * of the medians over rounds.
 *
 *   node --import tsx bench/s3-end-to-end.bench.ts [N=20000] [rounds=2] [perObjectN=min(N,1000)]
 *
 * Env: LETHE_BENCH_S3_OBJECTS (N), LETHE_TEST_S3_ENDPOINT (else a moto_server is started here),
 * LETHE_BENCH_DATABASE_URL (else local Postgres). The engine runs from TypeScript sources (no
 * build needed); its S3 pace is off (deletesPerSecond and deletesPerSecondPerPrefix 0) so the store sets it.
 * Seeding is the slow part: moto stores at most about 200 objects/s, so N=20000 and 2 rounds put
 * about 80k objects (7 minutes on an idle 2-core machine, much longer on a busy one).
 */
import { Bench } from 'tinybench';
import { createEngine, parseStorageUrl, type Engine, type S3StorageConfig } from '@lethe/engine';
import { CreateBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, mapLimit, PutObjectCommand, S3Client } from '@lethe/engine/testing';
import { startS3Server, type S3TestServer } from '../test/support/s3-server.js';
import { createBenchDatabase, createJobs, keyOf, seedExpiredRows, type BenchDatabase } from './support/bench-database.js';

export interface S3BenchResult {
  readonly n: number;
  readonly perObjectN: number;
  readonly letheKeysPerSecond: number;
  readonly ceilingKeysPerSecond: number;
  readonly perObjectKeysPerSecond: number;
}

const THREADS = 2;
const BUCKET = 'lethe-bench';

async function putAll(client: S3Client, keys: readonly string[], log: (line: string) => void): Promise<void> {
  const started = performance.now();
  await mapLimit(keys, 16, (key) => client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x' })));
  log(`  (put ${keys.length} objects in ${((performance.now() - started) / 1000).toFixed(1)} s)`);
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The ceiling: DeleteObjects of 1000 keys, `THREADS` requests in flight, no database, no checks. */
async function bareDeleteObjects(client: S3Client, keys: readonly string[]): Promise<void> {
  await mapLimit(chunks(keys, 1000), THREADS, async (chunk) => {
    const out = await client.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Quiet: true, Objects: chunk.map((Key) => ({ Key })) } }));
    if (out.Errors?.length) throw new Error(`bare DeleteObjects: ${out.Errors.length} errors`);
  });
}

async function perObjectDeletes(client: S3Client, keys: readonly string[]): Promise<void> {
  await mapLimit(keys, 16, (Key) => client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key })));
}

type Task = [name: string, fn: () => Promise<void>];

export async function runS3Bench(n: number, rounds: number, perObjectN: number, log: (line: string) => void = console.log): Promise<S3BenchResult> {
  const server: S3TestServer = await startS3Server();
  let db: BenchDatabase | undefined;
  let engine: Engine | undefined;
  const rates: Record<string, number[]> = { lethe: [], ceiling: [], perObject: [] };
  try {
    await server.client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    db = await createBenchDatabase('s3');
    await createJobs(db.pool);
    const storage: S3StorageConfig = {
      ...(parseStorageUrl(
        `s3://${BUCKET}/lethe/?endpoint=${encodeURIComponent(server.endpoint)}&forcePathStyle=true&region=${server.region}`,
      ) as S3StorageConfig),
      credentials: server.credentials,
    };
    engine = createEngine({ databaseUrl: db.url, storage, threads: THREADS, deletesPerSecond: 0, deletesPerSecondPerPrefix: 0 });
    await engine.migrate();
    const pool = db.pool;
    const seedRun = async (count: number): Promise<void> => {
      await pool.query('TRUNCATE jobs, lethe_ledger');
      await seedExpiredRows(pool, count, 'l');
      await pool.query('ANALYZE jobs');
      await putAll(
        server.client,
        Array.from({ length: count }, (_, i) => `lethe/${keyOf('l', i)}`),
        log,
      );
    };
    // Warm-up: each worker thread loads the SDK and reads the bucket's versioning state once per
    // process (a daemon keeps its workers); concurrent calls reach every thread. Then one run.
    const warmStorage = engine.storage();
    await Promise.all(Array.from({ length: THREADS * 2 }, (_, i) => warmStorage.deleteMany([`warm-up/${i}`])));
    await seedRun(200);
    const warm = await engine.run({ trigger: 'bench' });
    if (warm.deleted_count !== 200) throw new Error(`warm-up run deleted ${warm.deleted_count}/200 (${warm.status})`);

    for (let round = 0; round < rounds; round++) {
      // Every side's objects are put first, so the timed sides run back to back: on a shared,
      // noisy machine, minutes of seeding between them would compare different loads.
      const bareKeys = Array.from({ length: n }, (_, i) => `bare/${round}/${i}`);
      const singleKeys = Array.from({ length: perObjectN }, (_, i) => `single/${round}/${i}`);
      await seedRun(n);
      await putAll(server.client, [...bareKeys, ...singleKeys], log);
      const lethe: Task = [
        'lethe',
        async () => {
          // allowLarge: the blast-radius guard would refuse a run 10x the warm-up's size.
          const s = await engine!.run({ trigger: 'bench', allowLarge: true });
          if (s.deleted_count !== n || s.status !== 'completed') throw new Error(`lethe run deleted ${s.deleted_count}/${n} (${s.status})`);
          if (process.env.LETHE_BENCH_VERBOSE) log(`  run ${s.duration_seconds} s, phases (ms): ${JSON.stringify(s.phase_ms)}`);
        },
      ];
      const ceiling: Task = ['ceiling', () => bareDeleteObjects(server.client, bareKeys)];
      const perObject: Task = ['perObject', () => perObjectDeletes(server.client, singleKeys)];
      const order = round % 2 === 0 ? [lethe, ceiling, perObject] : [perObject, ceiling, lethe];
      const bench = new Bench({ iterations: 1, time: 0, warmup: false, throws: true });
      for (const [name, fn] of order) bench.add(name, fn);
      await bench.run();
      const thisRound: Record<string, number> = {};
      for (const task of bench.tasks) {
        const r = task.result;
        if (r.state !== 'completed') throw new Error(`${task.name}: ${r.state}${'error' in r ? `: ${String(r.error)}` : ''}`);
        const count = task.name === 'perObject' ? perObjectN : n;
        const perSecond = count / (r.latency.mean / 1000);
        rates[task.name]!.push(perSecond);
        thisRound[task.name] = perSecond;
        log(`round ${round + 1} ${task.name}: ${Math.round(perSecond)} keys/s (${count} keys in ${(r.latency.mean / 1000).toFixed(2)} s)`);
      }
      log(
        `round ${round + 1} ratios: lethe/ceiling ${(thisRound.lethe! / thisRound.ceiling!).toFixed(3)}, lethe/per-object ${(thisRound.lethe! / thisRound.perObject!).toFixed(1)}x`,
      );
    }
  } finally {
    await engine?.close();
    await db?.drop();
    await server.stop();
  }
  const median = (xs: number[]): number => {
    const sorted = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  };
  const result: S3BenchResult = {
    n,
    perObjectN,
    letheKeysPerSecond: median(rates.lethe!),
    ceilingKeysPerSecond: median(rates.ceiling!),
    perObjectKeysPerSecond: median(rates.perObject!),
  };
  log(`s3 end-to-end, N=${n} (per-object N=${perObjectN}), ${rounds} rounds, medians:`);
  log(`  lethe run             ${Math.round(result.letheKeysPerSecond)} keys/s`);
  log(`  bare DeleteObjects    ${Math.round(result.ceilingKeysPerSecond)} keys/s (ceiling, ${THREADS} in flight)`);
  log(`  per-object DeleteObject ${Math.round(result.perObjectKeysPerSecond)} keys/s (16 in flight)`);
  log(`  lethe / ceiling = ${(result.letheKeysPerSecond / result.ceilingKeysPerSecond).toFixed(3)} (goal >= 0.9)`);
  log(`  lethe / per-object = ${(result.letheKeysPerSecond / result.perObjectKeysPerSecond).toFixed(1)}x (goal >= 10x)`);
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const n = Number(process.argv[2] ?? process.env.LETHE_BENCH_S3_OBJECTS ?? 20_000);
  const rounds = Number(process.argv[3] ?? 2);
  const perObjectN = Number(process.argv[4] ?? Math.min(n, 1000));
  await runS3Bench(n, rounds, perObjectN);
}
