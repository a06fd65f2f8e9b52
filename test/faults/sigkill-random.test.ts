import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '@lethe/engine/testing';
import { runCli, spawnCli, waitForExit } from '../support/cli.js';
import { expectConverged } from '../support/convergence.js';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';
import { expectConsistent, faultSeed, insertRows, pollUntil, putFiles } from './fixtures.js';

/**
 * Issue 7, fault proof 1: SIGKILL the CLI at 20 seeded random points, rerun each time. Extends
 * test/engine/crash-recovery.test.ts (3 fixed points) with random points, a check of the
 * invariants after every kill (not only at the end), and an exact count of the files that a
 * killed run deleted but could not record, which the next run must record as absent.
 *
 * Kill points: most are "the ledger has passed N rows" (N drawn from the seed, increasing); about
 * one in five is "the run's row has appeared" (killed during start-up, before or among its first
 * deletes). A deletes-per-second ceiling and small batches spread the points over the run.
 */
const EXPIRED = 2000;
const LIVE = 200;
const KILLS = 20;
const seed = faultSeed('sigkill-random');
const expiredKeys = Array.from({ length: EXPIRED }, (_, i) => `exp/${i % 20}/${i}.pdf`);
const liveKeys = Array.from({ length: LIVE }, (_, i) => `live/${i % 4}/${i}.pdf`);
let expiredIds: string[] = [];
let db: TestDatabase;
let files: TempRoot;

type KillPoint = { readonly kind: 'started' } | { readonly kind: 'ledger'; readonly rows: number };

/** Increasing ledger thresholds spread over the first 3/4 of the backlog, mixed with start-up kills. */
function killPlan(s: number): KillPoint[] {
  const random = seededRandom(s);
  const thresholds = Array.from({ length: KILLS }, () => 1 + Math.floor(random() * (EXPIRED * 0.75))).sort((a, b) => a - b);
  return thresholds.map((rows) => (random() < 0.2 ? { kind: 'started' } : { kind: 'ledger', rows }));
}

const count = async (sql: string): Promise<number> => (await db.pool.query<{ n: number }>(sql)).rows[0]!.n;

beforeAll(async () => {
  db = await createTestDatabase('fault_kill');
  files = await createTempRoot('fault-kill');
  await createJobsTable(db.pool);
  expiredIds = await insertRows(db.pool, 'e', expiredKeys, 'System Testing', '2 days');
  await insertRows(db.pool, 'l', liveKeys, 'System Testing', '1 hour');
  await putFiles(files.root, [...expiredKeys, ...liveKeys]);
});

afterAll(async () => {
  await db?.drop();
  await files?.remove();
});

describe('SIGKILL at seeded random points (issue 7)', () => {
  it(`converges after ${KILLS} kills, with every interim state consistent (seed ${seed})`, async () => {
    const env = {
      DATABASE_URL: db.url, LETHE_STORAGE: `file://${files.root}`, LETHE_BATCH_SIZE: '20', LETHE_DELETES_PER_SECOND: '500',
      LETHE_THREADS: '1', LETHE_MAX_BATCHES_IN_FLIGHT: '2', LETHE_LOG_LEVEL: 'silent',
    };
    const migrated = await runCli(['migrate'], env);
    expect(migrated.code, migrated.stderr).toBe(0);
    const plan = killPlan(seed);
    const log: string[] = [];
    const gaps = new Set<string>();
    const t0 = Date.now();
    for (const [i, point] of plan.entries()) {
      const context = `seed ${seed}, kill ${i + 1}/${KILLS} (${point.kind === 'ledger' ? `ledger >= ${point.rows}` : 'run started'})`;
      const runsBefore = await count('SELECT count(*)::int AS n FROM lethe_runs');
      const ledgerBefore = await count('SELECT count(*)::int AS n FROM lethe_ledger');
      // A threshold already passed (the previous kill overshot) means: kill after this run's first batch.
      const target = point.kind === 'ledger' ? Math.max(point.rows, ledgerBefore + 1) : 0;
      const child = spawnCli(['run', '--json'], env);
      const exit = waitForExit(child);
      let exitedEarly = false;
      void exit.then(() => (exitedEarly = true));
      await pollUntil(async () => {
        if (exitedEarly) return true;
        if (point.kind === 'started') return (await count('SELECT count(*)::int AS n FROM lethe_runs')) > runsBefore;
        return (await count('SELECT count(*)::int AS n FROM lethe_ledger')) >= target;
      }, 30_000, context);
      child.kill('SIGKILL');
      const result = await exit;
      expect(result.signal, `${context}: the run must still be going when killed (stdout ${result.stdout.slice(0, 300)}, stderr ${result.stderr.slice(0, 300)})`).toBe('SIGKILL');
      const state = await expectConsistent(db.pool, files, { ids: expiredIds, keys: expiredKeys }, liveKeys, context);
      for (const id of state.gap) gaps.add(id);
      log.push(`${i + 1}:${point.kind === 'ledger' ? point.rows : 'start'}->${state.removed}${state.gap.length ? `(gap ${state.gap.length})` : ''}@${Date.now() - t0}ms`);
    }
    console.log(`[faults] seed ${seed}: kill point -> rows removed so far: ${log.join(' ')}`);
    const final = await runCli(['run', '--json'], { ...env, LETHE_DELETES_PER_SECOND: '0' });
    expect(final.code, `seed ${seed}: ${final.stderr}`).toBe(0);
    expect(JSON.parse(final.stdout), `seed ${seed}`).toMatchObject({ status: 'completed', failed_count: 0 });
    await expectConverged(db.pool, files, expiredKeys, liveKeys);
    // Files a killed run deleted but never recorded were found absent by a later run: exactly those.
    const absent = await db.pool.query<{ job_id: string }>(`SELECT job_id FROM lethe_ledger WHERE outcome = 'absent' ORDER BY job_id`);
    expect(absent.rows.map((r) => r.job_id), `seed ${seed}: absent rows = rows caught in the gap by some kill`).toEqual([...gaps].sort());
    const runs = await db.pool.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM lethe_runs GROUP BY status ORDER BY status`);
    expect(runs.rows, `seed ${seed}`).toEqual([{ status: 'completed', n: 1 }, { status: 'interrupted', n: KILLS }]);
    const sum = await count(`SELECT SUM((details->>'deleted_count')::int)::int AS n FROM audit_logs WHERE action = 'cleanup_expired_jobs'`);
    expect(sum, `seed ${seed}: audit rows count every file once`).toBe(EXPIRED);
  }, 90_000);
});
