/**
 * The S3 half of the peers suite (bench/peers.bench.ts has the method): processes timed from
 * spawn to exit, on objects put before each round, sides rotated each round, on `moto_server`
 * (or $LETHE_TEST_S3_ENDPOINT). N objects over `dirs` prefixes (`d<k>/`).
 *   - lethe:      `lethe run --allow-large` with its defaults (3,500 deletes/s per prefix);
 *   - lethe-open: the same with every pace off (LETHE_DELETES_PER_SECOND_PER_PREFIX=0), the
 *                 figure compared with the bare loop;
 *   - bare:       DeleteObjects of 1000 keys, no database (bench/support/bare-delete-objects-child.mjs):
 *                 the ceiling. As many requests in flight as a Lethe run has batches in flight
 *                 (LETHE_BENCH_BARE_IN_FLIGHT, default 4: the engine's maxBatchesInFlight default,
 *                 one DeleteObjects each); until 4 December it was 2, as Lethe's 2 worker threads were;
 *   - rclone:     `rclone delete` (Debian rclone; one DeleteObject per key), skipped if absent;
 *   - lethe-base: with LETHE_BENCH_BASELINE_BIN=<another build's bin/lethe.js>, that build run as
 *                 lethe-open is (pace off): a change, or a what-if variant, against today's in one
 *                 process (docs/performance.md#peers-what-if).
 * Beside each side's keys/s: the CPU moto spent serving it, per 1000 keys (from /proc, when this
 * setup started moto). moto is one Python process: what a side asks of it per key bounds its rate
 * (docs/performance.md#peers-s3).
 *
 *   node --import tsx bench/peers-s3.bench.ts [N=5000] [rounds=2] [dirs=100]
 *
 * moto stores about 100-200 objects/s, so seeding is most of the time (N=5000, 2 rounds, four
 * sides: 40k puts). Needs `pnpm build`. Figures: docs/performance.md#peers.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, ListObjectsV2Command, mapLimit, PutObjectCommand } from '@lethe/engine/testing';
import { startS3Server, type S3TestServer } from '../test/support/s3-server.js';
import { createBenchDatabase, type BenchDatabase, prepareBenchDatabase } from './support/bench-database.js';
import { seedRows, timed } from './peers.bench.js';
import { median } from './support/stats.js';
import { procCpuMs } from './support/cpu.js';

const LETHE_BIN = fileURLToPath(new URL('../packages/cli/bin/lethe.js', import.meta.url));
const BARE_CHILD = fileURLToPath(new URL('./support/bare-delete-objects-child.mjs', import.meta.url));
const BUCKET = 'lethe-peers';

type S3Side = 'lethe' | 'lethe-open' | 'lethe-base' | 'bare' | 'rclone';

export interface PeersS3Result {
  readonly n: number;
  readonly keysPerSecond: Partial<Record<S3Side, number>>;
  /** moto's CPU per 1000 keys while serving each side (medians; empty when moto was given by env). */
  readonly motoCpuMsPer1000Keys: Partial<Record<S3Side, number>>;
  /** lethe-open / bare (medians): the ceiling ratio. */
  readonly openVsBare: number;
  /** lethe (defaults) / bare. */
  readonly defaultVsBare: number;
  readonly skipped: Partial<Record<S3Side, string>>;
}

async function putSide(server: S3TestServer, prefix: string, n: number, dirs: number): Promise<void> {
  const perDir = Math.ceil(n / dirs);
  const keys = Array.from({ length: n }, (_, i) => `${prefix}d${Math.floor(i / perDir)}/${i}.pdf`);
  await mapLimit(keys, 16, (Key) => server.client.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: 'x' })));
}

/**
 * Objects left under the side's prefix, not counting Lethe's own erasure journal under
 * `<prefix>.lethe/` (docs/safety.md#erasures-survive-a-backup-restore): what its side writes
 * (timed), not a document left behind.
 */
async function left(server: S3TestServer, prefix: string): Promise<number> {
  let count = 0;
  let token: string | undefined;
  do {
    const out = await server.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
    count += (out.Contents ?? []).filter((o) => !(o.Key ?? '').startsWith(`${prefix}.lethe/`)).length;
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token && count === 0);
  return count;
}

export async function runPeersS3Bench(n: number, rounds: number, dirs = 100, log: (line: string) => void = console.log): Promise<PeersS3Result> {
  const server = await startS3Server();
  let db: BenchDatabase | undefined;
  const skipped: Partial<Record<S3Side, string>> = {};
  try {
    execFileSync('sh', ['-c', 'command -v rclone'], { stdio: 'pipe' });
  } catch {
    skipped.rclone = 'rclone is not installed (apt-get install -y rclone)';
  }
  const only = process.env.LETHE_BENCH_PEERS?.split(',');
  const baseline = process.env.LETHE_BENCH_BASELINE_BIN;
  const bareInFlight = Number(process.env.LETHE_BENCH_BARE_IN_FLIGHT ?? 4);
  if (!Number.isInteger(bareInFlight) || bareInFlight < 1)
    throw new Error(`LETHE_BENCH_BARE_IN_FLIGHT: expected a whole number >= 1, got ${process.env.LETHE_BENCH_BARE_IN_FLIGHT}`);
  const sides = (['lethe', 'lethe-open', 'lethe-base', 'bare', 'rclone'] as const).filter(
    (s) => !(s in skipped) && (!only || only.includes(s)) && (s !== 'lethe-base' || baseline !== undefined),
  );
  const rates: Record<string, number[]> = Object.fromEntries(sides.map((s) => [s, []]));
  /** moto's CPU ms per 1000 keys, per side and round (empty when moto was not started here). */
  const motoMs: Record<string, number[]> = Object.fromEntries(sides.map((s) => [s, []]));
  const awsEnv: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
    AWS_REGION: server.region,
  };
  delete awsEnv.UV_THREADPOOL_SIZE;
  // A CA bundle set for real AWS makes rclone refuse its plain-HTTP transport (LoadCustomCABundleError).
  const rcloneEnv: NodeJS.ProcessEnv = { ...awsEnv };
  delete rcloneEnv.AWS_CA_BUNDLE;
  try {
    await server.client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    db = await createBenchDatabase('peers_s3');
    await prepareBenchDatabase(db);
    for (let round = 0; round < rounds; round++) {
      const order = sides.map((_, i) => sides[(i + round) % sides.length]!);
      for (const side of order) {
        const prefix = `${side}-${round}/`;
        const started = performance.now();
        await putSide(server, prefix, n, dirs);
        log(`  (put ${n} objects for ${side} in ${((performance.now() - started) / 1000).toFixed(1)} s)`);
        const url = `s3://${BUCKET}/${prefix}?endpoint=${encodeURIComponent(server.endpoint)}&forcePathStyle=true&region=${server.region}`;
        let result: { seconds: number; stdout: string };
        const motoBefore = server.pid === null ? null : await procCpuMs(server.pid);
        if (side === 'lethe' || side === 'lethe-open' || side === 'lethe-base') {
          await seedRows(db, n, dirs, `${side}-${round}-`);
          const env = side === 'lethe' ? awsEnv : { ...awsEnv, LETHE_DELETES_PER_SECOND: '0', LETHE_DELETES_PER_SECOND_PER_PREFIX: '0' };
          result = await timed(
            process.execPath,
            [side === 'lethe-base' ? baseline! : LETHE_BIN, 'run', '--json', '--allow-large', '--storage', url, '--database-url', db.url],
            env,
          );
          const summary = JSON.parse(result.stdout) as {
            deleted_count?: number;
            status?: string;
            duration_seconds?: number;
            phase_ms?: Record<string, number>;
          };
          if (summary.deleted_count !== n) throw new Error(`${side} deleted ${summary.deleted_count}/${n} (${summary.status})`);
          if (process.env.LETHE_BENCH_VERBOSE)
            log(`  ${side}: run ${summary.duration_seconds} s of ${result.seconds.toFixed(2)} s, phases (ms): ${JSON.stringify(summary.phase_ms)}`);
        } else if (side === 'bare') {
          result = await timed(process.execPath, [BARE_CHILD, server.endpoint, BUCKET, prefix, String(n), String(dirs), String(bareInFlight)], awsEnv);
        } else {
          result = await timed(
            'rclone',
            [
              'delete',
              '--config',
              '/dev/null',
              '--s3-provider',
              'Other',
              '--s3-endpoint',
              server.endpoint,
              '--s3-access-key-id',
              server.credentials.accessKeyId,
              '--s3-secret-access-key',
              server.credentials.secretAccessKey,
              '--s3-force-path-style',
              `:s3:${BUCKET}/${prefix}`,
            ],
            rcloneEnv,
          );
        }
        const motoSpent = motoBefore === null ? null : (await procCpuMs(server.pid!)) - motoBefore;
        if (motoSpent !== null) motoMs[side]!.push((motoSpent * 1000) / n);
        const remaining = await left(server, prefix);
        if (remaining !== 0) throw new Error(`${side} left objects under ${prefix}`);
        rates[side]!.push(n / result.seconds);
        log(
          `round ${round + 1} ${side.padEnd(10)} ${Math.round(n / result.seconds)} keys/s (${result.seconds.toFixed(2)} s)${motoSpent === null ? '' : `; moto CPU ${Math.round(motoSpent)} ms`}`,
        );
      }
    }
  } finally {
    await db?.drop();
    await server.stop();
  }
  const keysPerSecond = Object.fromEntries(sides.map((s) => [s, median(rates[s]!)])) as Partial<Record<S3Side, number>>;
  const ratio = (a: S3Side, b: S3Side): number => (keysPerSecond[a] ?? Number.NaN) / (keysPerSecond[b] ?? Number.NaN);
  log(`\npeers, S3 (moto): N=${n} over ${dirs} prefixes, ${rounds} rounds (medians); bare loop ${bareInFlight} requests in flight`);
  for (const s of sides)
    log(
      `${s.padEnd(10)} ${String(Math.round(keysPerSecond[s]!)).padStart(7)} keys/s   per round ${rates[s]!.map((r) => Math.round(r)).join(' ')}${motoMs[s]!.length > 0 ? `   moto CPU ${median(motoMs[s]!).toFixed(1)} ms per 1000 keys` : ''}`,
    );
  for (const [s, why] of Object.entries(skipped)) log(`${s.padEnd(10)} skipped: ${why}`);
  if (keysPerSecond['lethe-base'] !== undefined) log(`lethe (pace off) / ${baseline}: ${ratio('lethe-open', 'lethe-base').toFixed(3)}`);
  const motoCpuMsPer1000Keys = Object.fromEntries(sides.filter((s) => motoMs[s]!.length > 0).map((s) => [s, median(motoMs[s]!)]));
  const result = { n, keysPerSecond, motoCpuMsPer1000Keys, openVsBare: ratio('lethe-open', 'bare'), defaultVsBare: ratio('lethe', 'bare'), skipped };
  log(
    `lethe (pace off) / bare ${result.openVsBare.toFixed(3)}; lethe (defaults) / bare ${result.defaultVsBare.toFixed(3)}${keysPerSecond.rclone ? `; lethe / rclone ${ratio('lethe', 'rclone').toFixed(1)}x` : ''}`,
  );
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await runPeersS3Bench(Number(process.argv[2] ?? 5000), Number(process.argv[3] ?? 2), Number(process.argv[4] ?? 100));
}
