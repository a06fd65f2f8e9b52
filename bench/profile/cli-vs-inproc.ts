/**
 * The same filesystem run three ways, alternated: the `lethe` bin (the bundle), the unbundled CLI
 * (bench/support/run-cli-dist.mjs) and the engine in this process (packages/engine/dist). Prints
 * each run's own duration (`duration_seconds`) and the wall time around it, so the cost of the
 * process (start, preflight, records) shows apart from the run (docs/performance.md#peers-what-if).
 *   UV_THREADPOOL_SIZE=16 node --import tsx bench/profile/cli-vs-inproc.ts [N=50000] [rounds=2] [dirs=100] [sides=bundle,dist,inproc]
 * Needs `pnpm build`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine } from '@lethe/engine';
import { createBenchDatabase, prepareBenchDatabase } from '../support/bench-database.js';
import { seedRows, writeFiles } from '../peers.bench.js';

const BIN = fileURLToPath(new URL('../../packages/cli/bin/lethe.js', import.meta.url));
const DIST_RUNNER = fileURLToPath(new URL('../support/run-cli-dist.mjs', import.meta.url));
const CLI_DIST = fileURLToPath(new URL('../../packages/cli/dist/index.js', import.meta.url));
const n = Number(process.argv[2] ?? 50_000);
const rounds = Number(process.argv[3] ?? 2);
const dirs = Number(process.argv[4] ?? 100);
const sides = (process.argv[5] ?? 'bundle,dist,inproc').split(',');
const db = await createBenchDatabase('clivs');
try {
  await prepareBenchDatabase(db);
  for (let round = 0; round < rounds; round++) {
    for (const side of round % 2 ? [...sides].reverse() : sides) {
      const root = await mkdtemp(join(tmpdir(), 'lethe-clivs-'));
      try {
        await writeFiles(root, n, dirs);
        await seedRows(db, n, dirs, `r${round}${side}-`);
        execFileSync('sync');
        const args = ['run', '--json', '--allow-large', '--storage', `file://${root}`, '--database-url', db.url];
        const started = performance.now();
        let runSeconds: number;
        if (side === 'inproc') {
          const engine = createEngine({ databaseUrl: db.url, storage: `file://${root}`, maxDeletesPerRun: 0 });
          try {
            runSeconds = (await engine.run({ trigger: 'bench', allowLarge: true })).duration_seconds;
          } finally {
            await engine.close();
          }
        } else {
          const cmd = side === 'bundle' ? [BIN, ...args] : [DIST_RUNNER, CLI_DIST, ...args];
          const p = spawnSync(process.execPath, cmd, { encoding: 'utf8', env: { ...process.env, UV_THREADPOOL_SIZE: '16' } });
          if (p.status !== 0) throw new Error(`${side}: exit ${p.status}: ${p.stderr}`);
          runSeconds = (JSON.parse(p.stdout) as { duration_seconds: number }).duration_seconds;
        }
        const wall = (performance.now() - started) / 1000;
        console.log(
          `round ${round + 1} ${side.padEnd(7)} run ${runSeconds.toFixed(3)} s, wall ${wall.toFixed(2)} s (outside the run ${(wall - runSeconds).toFixed(2)} s)`,
        );
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    }
  }
} finally {
  await db.drop();
}
