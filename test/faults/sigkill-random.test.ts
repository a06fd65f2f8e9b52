import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { seededRandom, RUN_LOCK_KEY } from '@lethe/engine/testing';
import { runCli, spawnCli, waitForExit, type CliResult } from '../support/cli.js';
import { expectConverged } from '../support/convergence.js';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';
import { expectConsistent, faultSeed, insertRows, pollUntil, putFiles } from './fixtures.js';

/**
 * Fault proof 1 (docs/safety.md#what-is-guaranteed-while-the-world-moves): SIGKILL the CLI at 20 seeded random points, rerun each time. Extends
 * test/engine/crash-recovery.test.ts (3 fixed points) with random points, a check of the
 * invariants after every kill (not only at the end), and an exact count of the files that a
 * killed run deleted but could not record, which the next run must record as absent.
 *
 * Kill points: most are "the ledger has passed N rows" (N drawn from the seed, increasing); about
 * one in five is "the run's row has appeared" (killed during start-up, before or among its first
 * deletes). A deletes-per-second ceiling and small batches spread the points over the run.
 *
 * Between a kill and the next run the test holds the run lock itself, so the interim checks see
 * a still state. Runs are started ahead and wait for the lock with `lethe run --wait` (queued runs
 * taking over after a crash), so their start-up overlaps the runs before them.
 */
const EXPIRED = 2000;
const LIVE = 200;
const KILLS = 20;
/** Runs started ahead, waiting for the lock. */
const WAITERS = 2;
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

describe('SIGKILL at seeded random points (fault proof 1)', () => {
  it(`converges after ${KILLS} kills, with every interim state consistent (seed ${seed})`, async () => {
    const env = {
      DATABASE_URL: db.url,
      LETHE_STORAGE: `file://${files.root}`,
      LETHE_BATCH_SIZE: '20',
      LETHE_DELETES_PER_SECOND: '500',
      LETHE_THREADS: '1',
      LETHE_MAX_BATCHES_IN_FLIGHT: '2',
      LETHE_LOG_LEVEL: 'silent',
    };
    const migrated = await runCli(['migrate'], env);
    expect(migrated.code, migrated.stderr).toBe(0);
    const plan = killPlan(seed);
    const log: string[] = [];
    const gaps = new Set<string>();
    const t0 = Date.now();
    // The test takes the run lock itself between a kill and the next run (as an operator would),
    // so the checks see a still state. Runs are started ahead and wait for the lock (`--wait`), so
    // their start-up overlaps the runs before them; whichever gets the lock is the one killed,
    // found by the process id its runs row records.
    const lockClient = await db.pool.connect();
    const lockPid = (await lockClient.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const children = new Map<number, { child: ChildProcess; exit: Promise<CliResult> }>();
    const startWaiter = (): void => {
      const child = spawnCli(['run', '--json', '--wait', '120'], env);
      const exit = waitForExit(child);
      children.set(child.pid!, { child, exit });
    };
    const alive = (): number => [...children.values()].filter((c) => c.child.exitCode === null && c.child.signalCode === null).length;
    const killed: string[] = [];
    try {
      for (let n = 0; n < WAITERS; n++) startWaiter();
      let ledgerBefore = 0;
      for (const [i, point] of plan.entries()) {
        const context = `seed ${seed}, kill ${i + 1}/${KILLS} (${point.kind === 'ledger' ? `ledger >= ${point.rows}` : 'run started'})`;
        let run: { id: string; pid: number } | undefined;
        await pollUntil(
          async () => {
            const { rows } = await db.pool.query<{ id: string; pid: number }>(
              `SELECT id::text, pid FROM lethe_runs WHERE status = 'running' AND NOT (id::text = ANY($1))`,
              [killed],
            );
            run = rows[0];
            return run !== undefined;
          },
          30_000,
          `${context}: a run holds the lock`,
        );
        const current = children.get(run!.pid);
        expect(current, `${context}: the run belongs to a process this test started`).toBeDefined();
        while (alive() < WAITERS + 1) startWaiter();
        let exited = false;
        void current!.exit.then(() => (exited = true));
        // A threshold already passed (the previous kill overshot) means: kill after this run's first batch.
        const target = point.kind === 'ledger' ? Math.max(point.rows, ledgerBefore + 1) : 0;
        await pollUntil(
          async () => exited || point.kind === 'started' || (await count('SELECT count(*)::int AS n FROM lethe_ledger')) >= target,
          30_000,
          context,
        );
        // Queue for the lock first: when the killed session's lock goes, a waiter already queued gets it at once.
        let locked = false;
        const lock = lockClient.query('SELECT pg_advisory_lock($1)', [RUN_LOCK_KEY]).then(() => (locked = true));
        const queued = async (): Promise<boolean> =>
          (await db.pool.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid = $1`, [lockPid])).rowCount! > 0;
        await pollUntil(async () => locked || (await queued()), 30_000, `${context}: the test queued for the run lock`);
        current!.child.kill('SIGKILL');
        const result = await current!.exit;
        expect(
          result.signal,
          `${context}: the run must still be going when killed (stdout ${result.stdout.slice(0, 3000)}, stderr ${result.stderr.slice(0, 1000)})`,
        ).toBe('SIGKILL');
        killed.push(run!.id);
        await lock;
        const state = await expectConsistent(db.pool, files, { ids: expiredIds, keys: expiredKeys }, liveKeys, context);
        for (const id of state.gap) gaps.add(id);
        log.push(
          `${i + 1}:${point.kind === 'ledger' ? point.rows : 'start'}->${state.removed}${state.gap.length ? `(gap ${state.gap.length})` : ''}@${Date.now() - t0}ms`,
        );
        ledgerBefore = await count('SELECT count(*)::int AS n FROM lethe_ledger');
        // The waiters must not run once the kills are done: the final run below is the only one.
        if (i === KILLS - 1) {
          for (const c of children.values()) c.child.kill('SIGKILL');
          await Promise.all([...children.values()].map((c) => c.exit));
        }
        await lockClient.query('SELECT pg_advisory_unlock($1)', [RUN_LOCK_KEY]);
      }
      console.log(`[faults] seed ${seed}: kill point -> rows removed so far: ${log.join(' ')}`);
      const final = await runCli(['run', '--json'], { ...env, LETHE_DELETES_PER_SECOND: '0' });
      expect(final.code, `seed ${seed}: ${final.stderr}`).toBe(0);
      expect(JSON.parse(final.stdout), `seed ${seed}`).toMatchObject({ status: 'completed', failed_count: 0 });
    } finally {
      for (const c of children.values()) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
      await Promise.all([...children.values()].map((c) => c.exit));
      lockClient.release();
    }
    await expectConverged(db.pool, files, expiredKeys, liveKeys);
    // Files a killed run deleted but never recorded were found absent by a later run: exactly those.
    const absent = await db.pool.query<{ job_id: string }>(`SELECT job_id FROM lethe_ledger WHERE outcome = 'absent' ORDER BY job_id`);
    expect(
      absent.rows.map((r) => r.job_id),
      `seed ${seed}: absent rows = rows caught in the gap by some kill`,
    ).toEqual([...gaps].sort());
    const runs = await db.pool.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM lethe_runs GROUP BY status ORDER BY status`);
    expect(runs.rows, `seed ${seed}`).toEqual([
      { status: 'completed', n: 1 },
      { status: 'interrupted', n: KILLS },
    ]);
    const sum = await count(`SELECT SUM((details->>'deleted_count')::int)::int AS n FROM audit_logs WHERE action = 'cleanup_expired_jobs'`);
    expect(sum, `seed ${seed}: audit rows count every file once`).toBe(EXPIRED);
  }, 150_000);
});
