import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, ErrorCodes, FileStorage, type RunSummary } from '@lethe/engine';
import { RUN_LOCK_KEY } from '@lethe/engine/testing';
import { expectConverged } from '../support/convergence.js';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';
import { expectConsistent, insertRows, pollUntil, putFiles } from './fixtures.js';

/**
 * Fault proof 3 (docs/safety.md#what-is-guaranteed-while-the-world-moves): the database connection killed mid-run with `pg_terminate_backend`.
 * (a) every Lethe backend of this database (application_name = 'lethe'): the cursor, the
 *     outcome writer and the run-lock session all lose their connections at once;
 * (b) only the session that holds the run's advisory lock: the run must notice it no longer
 *     holds the lock and stop (DESIGN "One run at a time": it stops if that connection is lost).
 * Either way the run ends with a clear error, no job row is removed without its ledger row, and
 * the next run converges. Only backends of this test's database are touched (other test files
 * run Lethe at the same time on their own databases).
 */
let db: TestDatabase;
const EXPIRED = 1000;
const LIVE = 100;

beforeAll(async () => {
  db = await createTestDatabase('fault_db');
  await createJobsTable(db.pool);
});
afterAll(async () => {
  await db?.drop();
});

interface Fixture {
  readonly prefix: string;
  readonly files: TempRoot;
  readonly expiredKeys: string[];
  readonly expiredIds: string[];
  readonly liveKeys: string[];
}

async function fixture(prefix: string): Promise<Fixture> {
  const files = await createTempRoot(`fault-${prefix}`);
  const expiredKeys = Array.from({ length: EXPIRED }, (_, i) => `${prefix}/exp/${i % 10}/${i}.pdf`);
  const liveKeys = Array.from({ length: LIVE }, (_, i) => `${prefix}/live/${i}.pdf`);
  const expiredIds = await insertRows(db.pool, `${prefix}-e`, expiredKeys, 'System Testing', '3 days');
  await insertRows(db.pool, `${prefix}-l`, liveKeys, 'System Testing', '1 hour');
  await putFiles(files.root, [...expiredKeys, ...liveKeys]);
  return { prefix, files, expiredKeys, expiredIds, liveKeys };
}

/** A failed test must not leave expired rows for the next test's run to pick up. */
async function forget(f: Fixture): Promise<void> {
  await db.pool.query(`DELETE FROM jobs WHERE id LIKE $1`, [`${f.prefix}-%`]);
  await f.files.remove();
}

const ledgerRows = async (keys: readonly string[]): Promise<number> =>
  (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM lethe_ledger WHERE file_key = ANY($1)`, [keys])).rows[0]!.n;

/** The run's end, whether it rejected or returned a summary; a clear error either way. */
async function settle(run: Promise<RunSummary>): Promise<{ summary: RunSummary | null; code: string; message: string }> {
  try {
    const summary = await run;
    return { summary, code: summary.error?.code ?? '', message: summary.error?.message ?? '' };
  } catch (error) {
    return { summary: null, code: String((error as { code?: unknown }).code ?? ''), message: (error as Error).message };
  }
}

/** The rerun (no rate ceiling, a fresh engine) converges; files caught in the gap are recorded absent. */
async function expectRerunConverges(f: Fixture, gap: readonly string[]): Promise<void> {
  const engine = createEngine({ databaseUrl: db.url, storage: new FileStorage({ root: f.files.root }), batchSize: 100 });
  try {
    const s = await engine.run();
    expect(s).toMatchObject({ status: 'completed', failed_count: 0, absent_count: gap.length });
    await expectConverged(db.pool, f.files, f.expiredKeys, f.liveKeys);
  } finally {
    await engine.close();
  }
}

describe('database connections killed mid-run (fault proof 3)', () => {
  it('pg_terminate_backend on every Lethe backend: the run ends failed with a clear error, state stays consistent, the rerun converges', async () => {
    const f = await fixture('all');
    const engine = createEngine({ databaseUrl: db.url, storage: new FileStorage({ root: f.files.root }), batchSize: 20, deletesPerSecond: 400 });
    try {
      await engine.migrate();
      const run = engine.run();
      void run.catch(() => {});
      await pollUntil(async () => (await ledgerRows(f.expiredKeys)) >= 200, 30_000, '200 ledger rows');
      const killed = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE application_name = 'lethe' AND datname = current_database() AND pid <> pg_backend_pid()) t`,
      );
      // At least the run-lock session and the cursor's connection.
      expect(killed.rows[0]!.n).toBeGreaterThanOrEqual(2);
      const end = await settle(run);
      expect(end.summary?.status ?? 'rejected', end.message).toMatch(/^(failed|rejected)$/);
      // Whichever statement met the termination first, the message names the problem: the
      // database connection was lost (the code stays the underlying one: 57P01, EPIPE, ...).
      expect(end.code).not.toBe('');
      expect(end.message).toMatch(/^(LETHE_E_LOCK_LOST: )?the (run lock's )?database connection was lost/);
      if (end.summary) {
        expect(end.summary.deleted_count).toBeLessThan(EXPIRED);
        const row = await db.pool.query<{ status: string; error: string | null }>(`SELECT status, error FROM lethe_runs WHERE id = $1`, [end.summary.run_id]);
        expect(row.rows[0], 'the run is recorded as failed, with its error').toEqual({ status: 'failed', error: end.message });
      }
      const state = await expectConsistent(db.pool, f.files, { ids: f.expiredIds, keys: f.expiredKeys }, f.liveKeys, 'after the connections were killed');
      expect(state.removed).toBeLessThan(EXPIRED);
      await expectRerunConverges(f, state.gap);
    } finally {
      await engine.close();
      await forget(f);
    }
  });

  it('pg_terminate_backend on the run-lock session only: the run stops (lock lost) without corrupting state, and the rerun converges', async () => {
    const f = await fixture('lock');
    const engine = createEngine({ databaseUrl: db.url, storage: new FileStorage({ root: f.files.root }), batchSize: 20, deletesPerSecond: 400 });
    // A bigint advisory lock shows in pg_locks as classid = high 32 bits, objid = low 32 bits, objsubid = 1.
    const key = BigInt(RUN_LOCK_KEY);
    const lockHolder = async (): Promise<number | null> => {
      const { rows } = await db.pool.query<{ pid: number }>(
        `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND classid = $1::bigint::oid AND objid = $2::bigint::oid
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [(key >> 32n).toString(), (key & 0xffffffffn).toString()],
      );
      return rows[0]?.pid ?? null;
    };
    try {
      await engine.migrate();
      const run = engine.run();
      void run.catch(() => {});
      await pollUntil(async () => (await ledgerRows(f.expiredKeys)) >= 100, 30_000, '100 ledger rows');
      const pid = await lockHolder();
      expect(pid, 'the run holds its advisory lock').not.toBeNull();
      const app = await db.pool.query<{ application_name: string }>(`SELECT application_name FROM pg_stat_activity WHERE pid = $1`, [pid]);
      expect(app.rows[0]?.application_name).toBe('lethe');
      await db.pool.query('SELECT pg_terminate_backend($1)', [pid]);
      const end = await settle(run);
      expect(end.summary, `the run returns its summary: ${end.message}`).not.toBeNull();
      const s = end.summary!;
      expect(s.status).toBe('failed');
      expect(s.error?.code).toBe(ErrorCodes.LOCK_LOST);
      expect(s.error?.message).toMatch(/run lock's database connection was lost/);
      expect(s.error?.message).toMatch(/terminat/i);
      // It stopped: a good share of the backlog is left for the next run.
      expect(s.deleted_count).toBeLessThan(EXPIRED);
      const after = await ledgerRows(f.expiredKeys);
      const row = await db.pool.query<{ status: string; error: string | null }>(`SELECT status, error FROM lethe_runs WHERE id = $1`, [s.run_id]);
      expect(row.rows[0]).toEqual({ status: 'failed', error: s.error?.message });
      // Nothing more happens once the run has returned (no batch was left running behind it).
      expect(await ledgerRows(f.expiredKeys)).toBe(after);
      expect(await lockHolder(), 'the lock is free').toBeNull();
      const state = await expectConsistent(db.pool, f.files, { ids: f.expiredIds, keys: f.expiredKeys }, f.liveKeys, 'after the lock session was killed');
      expect(state.removed).toBe(s.deleted_count);
      await expectRerunConverges(f, state.gap);
    } finally {
      await engine.close();
      await forget(f);
    }
  });

  it('a connection dropped while the run records its end: the record is written on a fresh connection, not lost', async () => {
    // Deterministic form of a race the first test meets now and then: after a mass termination the
    // pool may still hold a connection whose backend is going away, and the run's record is the
    // next statement. Here the recording UPDATE is held on a table lock and its backend killed.
    const f = await fixture('record');
    const engine = createEngine({ databaseUrl: db.url, storage: new FileStorage({ root: f.files.root }), batchSize: 50, deletesPerSecond: 2000 });
    const blocker = await db.pool.connect();
    const recording = async (): Promise<number | null> => {
      const { rows } = await db.pool.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE application_name = 'lethe' AND datname = current_database()
            AND wait_event_type = 'Lock' AND query LIKE 'UPDATE lethe_runs SET status%'`,
      );
      return rows[0]?.pid ?? null;
    };
    try {
      await engine.migrate();
      const run = engine.run();
      void run.catch(() => {});
      await pollUntil(async () => (await ledgerRows(f.expiredKeys)) >= 1, 30_000, 'the first ledger row');
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE lethe_runs IN EXCLUSIVE MODE');
      await pollUntil(async () => (await recording()) !== null, 30_000, 'the run recording its end');
      await db.pool.query('SELECT pg_terminate_backend($1)', [await recording()]);
      let settled = false;
      void run.then(
        () => (settled = true),
        () => (settled = true),
      );
      // Either the run retries (a new recording statement waits on the lock) or it has given up.
      await pollUntil(async () => settled || (await recording()) !== null, 30_000, 'a retry or the end of the run');
      await blocker.query('COMMIT');
      const end = await settle(run);
      expect(end.summary, `the run must not fail because its record met one dropped connection: ${end.message}`).not.toBeNull();
      expect(end.summary!.status).toBe('completed');
      const row = await db.pool.query<{ status: string }>(`SELECT status FROM lethe_runs WHERE id = $1`, [end.summary!.run_id]);
      expect(row.rows[0]?.status, 'the database still answers: the run is recorded as it ended').toBe('completed');
      await expectConverged(db.pool, f.files, f.expiredKeys, f.liveKeys);
    } finally {
      await blocker.query('ROLLBACK').catch(() => {});
      blocker.release();
      await engine.close();
      await forget(f);
    }
  });
});
