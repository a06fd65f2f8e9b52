/**
 * Profiles a filesystem run: prepares N expired rows and files (synced), then runs Lethe in a
 * child process under `node --cpu-prof` (one profile per thread: main and each storage worker),
 * and prints each profile's self time per function during the run (workers are started and
 * warmed before it, as a daemon's are).
 *
 *   UV_THREADPOOL_SIZE=16 node --import tsx bench/profile/fs-profile.ts [N=50000] [profileDir]
 *
 * Needs `pnpm build` (the run uses packages/engine/dist). LETHE_BENCH_OPTIONS='{"threads":1}'
 * passes engine options through; LETHE_BENCH_ENGINE_DIST=packages/engine/.bench/<name>/dist/index.js
 * profiles another build (bench/profile/build-engine-variant.sh).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBenchDatabase, seedExpiredRows, prepareBenchDatabase } from '../support/bench-database.js';
import { createFiles } from '../support/bench-files.js';

const n = Number(process.argv[2] ?? 50_000);
const profileDir = process.argv[3] ?? (await mkdtemp(join(tmpdir(), 'lethe-cpuprof-')));
const db = await createBenchDatabase('profile');
const root = await mkdtemp(join(tmpdir(), 'lethe-bench-profile-'));
try {
  await prepareBenchDatabase(db);
  await seedExpiredRows(db.pool, n);
  await db.pool.query('ANALYZE jobs');
  await createFiles(root, n);
  const here = new URL('.', import.meta.url).pathname;
  const out = execFileSync(
    process.execPath,
    ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--import', 'tsx', join(here, 'fs-run-child.ts'), db.url, root, String(n)],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  console.log(`run: ${out.trim()}`);
  console.log(`profiles in ${profileDir}: ${(await readdir(profileDir)).join(', ')} (self time inside the run's window only)`);
  const { window } = JSON.parse(out.trim().split('\n').at(-1)!) as { window: string };
  execFileSync(process.execPath, ['--import', 'tsx', join(here, 'summarize-cpuprofile.ts'), profileDir, '--top', '30', '--window', window], {
    stdio: 'inherit',
  });
} finally {
  await rm(root, { recursive: true, force: true });
  await db.drop();
}
