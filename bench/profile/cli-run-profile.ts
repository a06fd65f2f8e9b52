/**
 * A CPU profile of the `lethe run` process as users run it (the bundled CLI, start-up included):
 * N expired rows and their synced files (as bench/peers.bench.ts lays them out), then
 * `node --cpu-prof packages/cli/bin/lethe.js run --json ...`, and each thread's self time per
 * function (summarize-cpuprofile.ts).
 *   node --import tsx bench/profile/cli-run-profile.ts [N=50000] [dirs=100] [profileDir]
 * Extra `lethe run` flags: LETHE_BENCH_LETHE_ARGS='--threads 2'. LETHE_BENCH_STRACE=1 counts syscalls
 * (strace -f -c) instead; LETHE_BENCH_UV_THREADS sets libuv's pool size.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBenchDatabase, prepareBenchDatabase } from '../support/bench-database.js';
import { seedRows, writeFiles } from '../peers.bench.js';

const LETHE_BIN = fileURLToPath(new URL('../../packages/cli/bin/lethe.js', import.meta.url));
const SUMMARIZE = fileURLToPath(new URL('./summarize-cpuprofile.ts', import.meta.url));

const n = Number(process.argv[2] ?? 50_000);
const dirs = Number(process.argv[3] ?? 100);
const profileDir = process.argv[4] ?? (await mkdtemp(join(tmpdir(), 'lethe-cli-profile-')));
const db = await createBenchDatabase('cliprof');
const root = await mkdtemp(join(tmpdir(), 'lethe-cli-profile-root-'));
try {
  await prepareBenchDatabase(db);
  await writeFiles(root, n, dirs);
  await seedRows(db, n, dirs, 'p-');
  execFileSync('sync');
  const extra = process.env.LETHE_BENCH_LETHE_ARGS?.split(' ').filter(Boolean) ?? [];
  const started = performance.now();
  // LETHE_BENCH_STRACE=1: count the run's syscalls (strace -f -c, written to <profileDir>/strace.txt) instead of profiling.
  const strace = process.env.LETHE_BENCH_STRACE === '1';
  const run = [LETHE_BIN, 'run', '--json', '--allow-large', '--storage', `file://${root}`, '--database-url', db.url, ...extra];
  const r = spawnSync(
    strace ? 'strace' : process.execPath,
    strace ? ['-f', '-c', '-o', join(profileDir, 'strace.txt'), process.execPath, ...run] : ['--cpu-prof', '--cpu-prof-dir', profileDir, ...run],
    // LETHE_BENCH_UV_THREADS=8: libuv's pool size for the run (the bin's default is 16).
    { encoding: 'utf8', env: { ...process.env, UV_THREADPOOL_SIZE: process.env.LETHE_BENCH_UV_THREADS } },
  );
  const seconds = (performance.now() - started) / 1000;
  await writeFile(join(profileDir, 'stderr.txt'), r.stderr);
  if (r.status !== 0) throw new Error(`lethe run exited ${r.status}: ${r.stderr}`);
  const summary = JSON.parse(r.stdout) as { deleted_count: number; phase_ms?: unknown };
  console.log(
    `lethe run: ${summary.deleted_count} deleted in ${seconds.toFixed(2)} s (${Math.round(n / seconds)} files/s), phase_ms ${JSON.stringify(summary.phase_ms)}`,
  );
  for (const f of (await readdir(profileDir)).filter((x) => x.endsWith('.cpuprofile'))) {
    console.log(`\n${f}`);
    console.log(execFileSync(process.execPath, ['--import', 'tsx', SUMMARIZE, join(profileDir, f)], { encoding: 'utf8' }));
  }
} finally {
  await rm(root, { recursive: true, force: true });
  await db.drop();
}
