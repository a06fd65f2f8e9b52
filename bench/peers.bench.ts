/**
 * Lethe as users run it, against its peers: every side is a process started by this bench and
 * timed from spawn to exit (start-up included), on files written, given an mtime two days back,
 * and `sync`ed before that side's timer. Sides alternate (rotated each round).
 *
 *   filesystem, N files over `dirs` directories (N/dirs each):
 *   - lethe:  `lethe run --allow-large` (packages/cli/bin/lethe.js, the installed launcher) over N
 *             expired rows whose files these are;
 *   - bare:   a plain Node unlink loop over the same names, 64 in flight, UV_THREADPOOL_SIZE=16
 *             (bench/support/bare-unlink-child.mjs): the ceiling;
 *   - find:   GNU `find <dir> -type f -mtime +1 -delete` (Debian findutils);
 *   - rclone: `rclone delete --min-age 1d <dir>` (Debian rclone), skipped with the reason if absent.
 *   and an empty run: `lethe run` with nothing expired, wall time, median of 5.
 *
 *   node --import tsx bench/peers.bench.ts [N=50000] [rounds=3] [dirs=100]
 *
 * Needs `pnpm build` (the CLI runs from packages/cli/dist). Figures: docs/performance.md#peers.
 * The S3 half lives in bench/peers-s3.bench.ts (moto seeding is slow).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBenchDatabase, type BenchDatabase, prepareBenchDatabase } from './support/bench-database.js';
import { mapLimit } from '@lethe/engine/testing';
import { median } from './support/stats.js';

const LETHE_BIN = fileURLToPath(new URL('../packages/cli/bin/lethe.js', import.meta.url));
const BARE_CHILD = fileURLToPath(new URL('./support/bare-unlink-child.mjs', import.meta.url));

export type PeerSide = 'lethe' | 'bare' | 'find' | 'rclone';

export interface PeersFsResult {
  readonly n: number;
  readonly dirs: number;
  /** Median files/s per side that ran. */
  readonly filesPerSecond: Partial<Record<PeerSide, number>>;
  /** Per side: lethe's median files/s divided by that side's median. */
  readonly letheVs: Partial<Record<PeerSide, number>>;
  /** Sides not measured, with the reason. */
  readonly skipped: Partial<Record<PeerSide, string>>;
  /** `lethe run` with nothing expired: median wall seconds over 5 runs. */
  readonly emptyRunSeconds: number;
  /** A Node process that does nothing (the bare child over 0 files): median wall seconds over 5. */
  readonly nodeStartSeconds: number;
}

function onPath(command: string): string | null {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'pipe' });
    return null;
  } catch {
    return `${command} is not installed (apt-get install -y ${command === 'find' ? 'findutils' : command})`;
  }
}

/** The environment a user's shell would give: without this process's UV_THREADPOOL_SIZE. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('UV_THREADPOOL_SIZE' in extra)) delete env.UV_THREADPOOL_SIZE;
  return env;
}

/** Runs a command; resolves to its wall time in seconds, throws on a non-zero exit with its stderr. */
export function timed(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ seconds: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => void (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code === 0) resolve({ seconds, stdout });
      else reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
    });
  });
}

const TWO_DAYS_AGO = new Date(Date.now() - 2 * 86_400_000);

/** N files `<dir>/d<k>/<i>.pdf` over `dirs` directories, mtime two days back, then sync. */
export async function writeFiles(dir: string, n: number, dirs: number): Promise<void> {
  const perDir = Math.ceil(n / dirs);
  for (let d = 0; d < dirs; d++) await mkdir(join(dir, `d${d}`), { recursive: true });
  const indexes = Array.from({ length: n }, (_, i) => i);
  await mapLimit(indexes, 64, async (i) => {
    const path = join(dir, `d${Math.floor(i / perDir)}`, `${i}.pdf`);
    await writeFile(path, 'benchmark document\n');
    await utimes(path, TWO_DAYS_AGO, TWO_DAYS_AGO);
  });
  execFileSync('sync');
}

export async function seedRows(db: BenchDatabase, n: number, dirs: number, tag: string): Promise<void> {
  await db.pool.query('TRUNCATE jobs');
  await db.pool.query(
    `INSERT INTO jobs (id, file_key, status, purpose_code, consent_verified, created_at)
     SELECT $3 || g, 'd' || (g / $2) || '/' || g || '.pdf', 'COMPLETED', 'System Testing', true,
            (now() AT TIME ZONE 'UTC') - interval '2 days'
       FROM generate_series(0, $1 - 1) g`,
    [n, Math.ceil(n / dirs), tag],
  );
  await db.pool.query('ANALYZE jobs');
}

function letheArgs(db: BenchDatabase, root: string): string[] {
  // LETHE_BENCH_LETHE_ARGS='--threads 2': extra flags for the lethe side (tuning).
  const extra = process.env.LETHE_BENCH_LETHE_ARGS?.split(' ').filter(Boolean) ?? [];
  return [LETHE_BIN, 'run', '--json', '--allow-large', '--storage', `file://${root}`, '--database-url', db.url, ...extra];
}

export async function runPeersFsBench(n: number, rounds: number, dirs = 100, log: (line: string) => void = console.log): Promise<PeersFsResult> {
  const db = await createBenchDatabase('peers');
  const root = await mkdtemp(join(tmpdir(), 'lethe-bench-peers-'));
  const skipped: Partial<Record<PeerSide, string>> = {};
  for (const [side, cmd] of [
    ['find', 'find'],
    ['rclone', 'rclone'],
  ] as const) {
    const why = onPath(cmd);
    if (why) skipped[side] = why;
  }
  // LETHE_BENCH_PEERS=lethe,bare: some sides only (while iterating).
  const only = process.env.LETHE_BENCH_PEERS?.split(',');
  const sides = (['lethe', 'bare', 'find', 'rclone'] as const).filter((s) => !(s in skipped) && (!only || only.includes(s)));
  const rates: Record<string, number[]> = Object.fromEntries(sides.map((s) => [s, []]));
  let emptyRunSeconds = Number.NaN;
  let nodeStartSeconds = Number.NaN;
  try {
    await prepareBenchDatabase(db);
    for (let round = 0; round < rounds; round++) {
      const order = sides.map((_, i) => sides[(i + round) % sides.length]!);
      if (round % 2 === 1) order.reverse();
      for (const side of order) {
        const dir = join(root, `${side}-${round}`);
        await writeFiles(dir, n, dirs);
        let run: () => Promise<{ seconds: number; stdout: string }>;
        switch (side) {
          case 'lethe':
            await seedRows(db, n, dirs, `r${round}-`);
            run = () => timed(process.execPath, letheArgs(db, dir), userEnv());
            break;
          case 'bare':
            run = () => timed(process.execPath, [BARE_CHILD, dir, String(n), String(dirs)], userEnv({ UV_THREADPOOL_SIZE: '16' }));
            break;
          case 'find':
            run = () => timed('find', [dir, '-type', 'f', '-mtime', '+1', '-delete'], userEnv());
            break;
          case 'rclone':
            run = () => timed('rclone', ['delete', '--min-age', '1d', '--config', '/dev/null', dir], userEnv());
            break;
        }
        const { seconds, stdout } = await run();
        if (side === 'lethe') {
          const summary = JSON.parse(stdout) as { deleted_count?: number; status?: string };
          if (summary.deleted_count !== n) throw new Error(`lethe run deleted ${summary.deleted_count}/${n} (${summary.status})`);
          // LETHE_BENCH_VERBOSE=1: the run's own view (its duration and where the time went).
          if (process.env.LETHE_BENCH_VERBOSE === '1') {
            const own = summary as { duration_seconds?: number; phase_ms?: Record<string, number> };
            log(`  lethe run: duration_seconds ${own.duration_seconds}, phase_ms ${JSON.stringify(own.phase_ms)}`);
          }
        }
        // Lethe's own erasure journal (.lethe/journal/, docs/safety.md#erasures-survive-a-backup-restore)
        // is part of what its side writes (timed), not a document left behind.
        const left = Number(
          execFileSync('sh', ['-c', `find '${dir}' -path '${dir}/.lethe' -prune -o -type f -print | wc -l`])
            .toString()
            .trim(),
        );
        if (left !== 0) throw new Error(`${side} left ${left} of ${n} files`);
        rates[side]!.push(n / seconds);
        log(`round ${round + 1} ${side.padEnd(6)} ${Math.round(n / seconds)} files/s (${seconds.toFixed(2)} s; load ${loadavg()[0]!.toFixed(1)})`);
        await rm(dir, { recursive: true, force: true });
      }
    }
    await db.pool.query('TRUNCATE jobs');
    const empty: number[] = [];
    const emptyDir = join(root, 'empty');
    await mkdir(emptyDir, { recursive: true });
    for (let i = 0; i < 5; i++) empty.push((await timed(process.execPath, letheArgs(db, emptyDir), userEnv())).seconds);
    emptyRunSeconds = median(empty);
    const bareStart: number[] = [];
    for (let i = 0; i < 5; i++)
      bareStart.push((await timed(process.execPath, [BARE_CHILD, emptyDir, '0', '1'], userEnv({ UV_THREADPOOL_SIZE: '16' }))).seconds);
    nodeStartSeconds = median(bareStart);
    log(
      `empty run (nothing expired): ${empty.map((s) => s.toFixed(3)).join(' ')} s, median ${emptyRunSeconds.toFixed(3)} s; a Node process doing nothing: ${nodeStartSeconds.toFixed(3)} s`,
    );
  } finally {
    await rm(root, { recursive: true, force: true });
    await db.drop();
  }
  const filesPerSecond = Object.fromEntries(sides.map((s) => [s, median(rates[s]!)])) as Partial<Record<PeerSide, number>>;
  const letheVs = Object.fromEntries(sides.filter((s) => s !== 'lethe').map((s) => [s, filesPerSecond.lethe! / filesPerSecond[s]!])) as Partial<
    Record<PeerSide, number>
  >;
  log(`\npeers, filesystem: N=${n} in ${dirs} directories, ${rounds} rounds (medians)`);
  log(`side    files/s   lethe / side   per round`);
  for (const s of sides) {
    const perRound = rates[s]!.map((r, i) => (rates.lethe![i]! / r).toFixed(2)).join(' ');
    log(
      `${s.padEnd(7)} ${String(Math.round(filesPerSecond[s]!)).padStart(7)}   ${s === 'lethe' ? '      -' : letheVs[s]!.toFixed(3).padStart(7)}        ${s === 'lethe' ? '' : perRound}`,
    );
  }
  for (const [s, why] of Object.entries(skipped)) log(`${s.padEnd(7)} skipped: ${why}`);
  return { n, dirs, filesPerSecond, letheVs, skipped, emptyRunSeconds, nodeStartSeconds };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const n = Number(process.argv[2] ?? 50_000);
  const rounds = Number(process.argv[3] ?? 3);
  const dirs = Number(process.argv[4] ?? 100);
  await runPeersFsBench(n, rounds, dirs);
}
