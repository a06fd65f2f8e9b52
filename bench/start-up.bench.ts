/**
 * Start-up: an empty `lethe run` (nothing expired, file storage) as a process, spawn to exit,
 * against a Node process that does nothing (`node -e 0`), sides alternated each round. This is
 * the fixed cost every scheduled run pays before its first delete (docs/performance.md#start-up).
 *
 *   node --import tsx bench/start-up.bench.ts [rounds=20]
 *
 * Beside wall time: CPU (user + sys, from GNU time when /usr/bin/time exists), the statements the
 * run sends (a preload counting node-postgres queries, bench/support/statement-probe.mjs) and the
 * files it opens (`strace -f -c -e trace=openat`, when strace is installed). Both counts are exact
 * and do not move with the machine's load.
 *
 * LETHE_BENCH_BASELINE_BIN=/path/to/other/checkout/packages/cli/bin/lethe.js adds that build as a
 * third side (same database and storage, migrated by this checkout: the other build must accept its
 * schema version): a before/after of a change, alternated in one process.
 * Needs `pnpm build` (the CLI runs from packages/cli/dist).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createBenchDatabase, prepareBenchDatabase } from './support/bench-database.js';
import { median } from './support/stats.js';

const LETHE_BIN = fileURLToPath(new URL('../packages/cli/bin/lethe.js', import.meta.url));
const PROBE = fileURLToPath(new URL('./support/statement-probe.mjs', import.meta.url));
const RUN_CLI_DIST = fileURLToPath(new URL('./support/run-cli-dist.mjs', import.meta.url));
const GNU_TIME = '/usr/bin/time';
/** Rows that exist but are not expired, each with its file: the run reads, finds nothing, records itself. */
const LIVE_ROWS = 10;

export interface StartUpSide {
  readonly label: string;
  /** Median wall seconds, spawn to exit. */
  readonly wallSeconds: number;
  readonly minWallSeconds: number;
  /** Median user + sys seconds (NaN without /usr/bin/time). */
  readonly cpuSeconds: number;
  /** Statements sent to PostgreSQL by one run (null for the Node side). */
  readonly statements: number | null;
  /** openat calls of one run, all threads (null without strace). */
  readonly filesOpened: number | null;
}

export interface StartUpResult {
  readonly rounds: number;
  readonly lethe: StartUpSide;
  readonly node: StartUpSide;
  /** LETHE_BENCH_BASELINE_BIN, when given. */
  readonly baseline?: StartUpSide;
  /** lethe wall / node wall (medians). */
  readonly emptyRunVsNodeStart: number;
}

function has(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** The environment a user's shell would give: without this process's UV_THREADPOOL_SIZE or tsx. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.UV_THREADPOOL_SIZE;
  delete env.NODE_OPTIONS;
  return env;
}

interface Timed {
  readonly seconds: number;
  readonly cpuSeconds: number;
}

/** Spawns `args` (under GNU time when present); resolves to wall and CPU seconds, throws on a non-zero exit. */
function timed(args: readonly string[], env: NodeJS.ProcessEnv, gnuTime: boolean): Promise<Timed> {
  const [command, argv] = gnuTime ? [GNU_TIME, ['-f', 'lethe-bench-cpu %U %S', ...args]] : [args[0]!, args.slice(1)];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, argv, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0) return reject(new Error(`${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
      const m = /lethe-bench-cpu ([\d.]+) ([\d.]+)/.exec(stderr);
      resolve({ seconds, cpuSeconds: m ? Number(m[1]) + Number(m[2]) : Number.NaN });
    });
  });
}

/** One probed run: the statements it sent and (with strace) the files it opened. */
async function countsOf(
  bin: string,
  env: NodeJS.ProcessEnv,
  scratch: string,
  withStrace: boolean,
): Promise<{ statements: number; filesOpened: number | null }> {
  const out = join(scratch, 'probe.json');
  // The engine beside that CLI (packages/cli/bin/lethe.js -> packages/engine): its pg is the one to count.
  const enginePackage = fileURLToPath(new URL('../../engine/package.json', pathToFileURL(bin)));
  // The bin runs a bundle with node-postgres inside it: count through the same CLI unbundled.
  const cliDist = fileURLToPath(new URL('../dist/index.js', pathToFileURL(bin)));
  await timed(
    [process.execPath, '--import', PROBE, RUN_CLI_DIST, cliDist, 'run'],
    { ...env, LETHE_BENCH_PROBE_OUT: out, LETHE_BENCH_ENGINE_PACKAGE: enginePackage },
    false,
  );
  const { statements } = JSON.parse(await readFile(out, 'utf8')) as { statements: number };
  // Every run sends some (the runs row at least): none means the probe patched another pg.
  if (statements === 0) throw new Error(`the statement probe counted no statements for ${cliDist}: it patched a node-postgres the run does not use`);
  if (!withStrace) return { statements, filesOpened: null };
  const trace = join(scratch, 'strace.txt');
  await timed(['strace', '-f', '-c', '-e', 'trace=openat', '-o', trace, process.execPath, bin, 'run'], env, false);
  // `% time  seconds  usecs/call  calls  errors  syscall`: the calls column of the openat line.
  const line = (await readFile(trace, 'utf8')).split('\n').find((l) => /\sopenat$/.test(l.trim()));
  const calls = line ? Number(line.trim().split(/\s+/)[3]) : Number.NaN;
  return { statements, filesOpened: calls };
}

export async function runStartUpBench(rounds: number, log: (line: string) => void = console.log): Promise<StartUpResult> {
  const db = await createBenchDatabase('startup');
  const root = await mkdtemp(join(tmpdir(), 'lethe-bench-startup-'));
  const gnuTime = existsSync(GNU_TIME);
  const withStrace = has('strace');
  const baselineBin = process.env.LETHE_BENCH_BASELINE_BIN;
  const bins: Array<{ label: string; bin: string }> = [{ label: 'lethe run (empty)', bin: LETHE_BIN }];
  if (baselineBin) bins.push({ label: `baseline (${baselineBin})`, bin: baselineBin });
  try {
    await prepareBenchDatabase(db);
    const storage = join(root, 'storage');
    await mkdir(join(storage, 'd'), { recursive: true });
    for (let i = 0; i < LIVE_ROWS; i++) await writeFile(join(storage, 'd', `${i}.pdf`), 'x');
    await db.pool.query(
      `INSERT INTO jobs (id, file_key, status, purpose_code, consent_verified, created_at)
       SELECT 'live' || g, 'd/' || g || '.pdf', 'COMPLETED', 'General', true, (now() AT TIME ZONE 'UTC') - interval '1 hour'
         FROM generate_series(0, $1 - 1) g`,
      [LIVE_ROWS],
    );
    const env = userEnv({ DATABASE_URL: db.url, LETHE_STORAGE: `file://${storage}` });
    const sides = [
      ...bins.map((b) => ({ label: b.label, args: [process.execPath, b.bin, 'run'] })),
      { label: 'node -e 0', args: [process.execPath, '-e', '0'] },
    ];
    // One untimed run each: the page cache holds the modules for every timed one.
    for (const s of sides) await timed(s.args, env, false);
    const wall: number[][] = sides.map(() => []);
    const cpu: number[][] = sides.map(() => []);
    for (let round = 0; round < rounds; round++) {
      const order = sides.map((_, i) => (i + round) % sides.length);
      if (round % 2 === 1) order.reverse();
      for (const i of order) {
        const t = await timed(sides[i]!.args, env, gnuTime);
        wall[i]!.push(t.seconds);
        cpu[i]!.push(t.cpuSeconds);
      }
    }
    const counts: Array<{ statements: number; filesOpened: number | null }> = [];
    for (const [i, b] of bins.entries()) {
      const scratch = join(root, `probe-${i}`);
      await mkdir(scratch);
      counts.push(await countsOf(b.bin, env, scratch, withStrace));
    }
    const result: StartUpSide[] = sides.map((s, i) => ({
      label: s.label,
      wallSeconds: median(wall[i]!),
      minWallSeconds: Math.min(...wall[i]!),
      cpuSeconds: median(cpu[i]!),
      statements: counts[i]?.statements ?? null,
      filesOpened: counts[i]?.filesOpened ?? null,
    }));
    const lethe = result[0]!;
    const node = result[result.length - 1]!;
    const baseline = baselineBin ? result[1] : undefined;
    log(
      `\nstart-up: ${rounds} rounds, sides alternated, load ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} at the end (medians)`,
    );
    log('side                       wall s   min s   cpu s   statements   openat');
    for (const s of result) {
      log(
        `${s.label.slice(0, 26).padEnd(26)} ${s.wallSeconds.toFixed(3).padStart(6)}  ${s.minWallSeconds.toFixed(3).padStart(6)}  ${(Number.isNaN(s.cpuSeconds) ? '-' : s.cpuSeconds.toFixed(3)).padStart(6)}   ${String(s.statements ?? '-').padStart(10)}   ${String(s.filesOpened ?? '-').padStart(6)}`,
      );
    }
    const emptyRunVsNodeStart = lethe.wallSeconds / node.wallSeconds;
    log(
      `empty run / node start: ${emptyRunVsNodeStart.toFixed(2)}x${baseline ? `; empty run / baseline: ${(lethe.wallSeconds / baseline.wallSeconds).toFixed(3)}` : ''}`,
    );
    if (!gnuTime) log(`cpu: skipped (${GNU_TIME} not found: apt-get install -y time)`);
    if (!withStrace) log('openat: skipped (strace not installed: apt-get install -y strace)');
    return { rounds, lethe, node, ...(baseline ? { baseline } : {}), emptyRunVsNodeStart };
  } finally {
    await rm(root, { recursive: true, force: true });
    await db.drop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await runStartUpBench(Number(process.argv[2] ?? 20));
}
