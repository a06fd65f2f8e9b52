import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createEngine,
  ErrorCodes,
  FileStorage,
  placeHold,
  readControl,
  releaseHolds,
  resume,
  inspectJobsTable,
  DEFAULT_JOBS_TABLE,
  type Engine,
} from '@lethe/engine';
import { FaultyDeletes } from '../support/faulty-deletes.js';
import { createJobsTable, createTestDatabase, insertJobs, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';

const UTC_NOW = `(now() AT TIME ZONE 'UTC')`;
let db: TestDatabase;
let files: TempRoot;

beforeAll(async () => {
  db = await createTestDatabase('safety');
  await createJobsTable(db.pool);
  const e = createEngine({ databaseUrl: db.url });
  await e.migrate();
  await e.close();
});
afterAll(async () => {
  await db.drop();
});
beforeEach(async () => {
  files = await createTempRoot('safety');
  await db.pool.query('TRUNCATE jobs, lethe_runs, lethe_ledger, lethe_holds');
  await resume(db.pool, { by: 'test' });
});
afterEach(async () => {
  await files.remove();
});

async function seed(n: number, prefix: string, age = '40 days'): Promise<string[]> {
  const keys = Array.from({ length: n }, (_, i) => `${prefix}/${i}.pdf`);
  await db.pool.query(`INSERT INTO jobs (id, file_key, purpose_code, created_at) SELECT k, k, 'General', ${UTC_NOW} - $2::interval FROM unnest($1::text[]) k`, [
    keys,
    age,
  ]);
  for (const k of keys) await files.put(k);
  return keys;
}

describe('legal holds', () => {
  it('a held file is never erased, by key or by job id, and is listed in the summary; released, it goes', async () => {
    const [a, b, c] = await seed(3, 'h');
    const engine = createEngine({ databaseUrl: db.url, storage: `file://${files.root}`, threads: 1 });
    try {
      const table = await inspectJobsTable(db.pool, DEFAULT_JOBS_TABLE);
      await placeHold(db.pool, table, { target: { fileKey: a! }, reason: 'litigation 42', by: 'legal@example' });
      await placeHold(db.pool, table, { target: { jobId: b! }, reason: 'regulator request', by: 'legal@example' });
      const s = await engine.run();
      expect(s).toMatchObject({ deleted_count: 1, held_count: 2 });
      expect([...s.held_files].sort()).toEqual([a, b]);
      expect(await files.exists(a!)).toBe(true);
      expect(await files.exists(b!)).toBe(true);
      expect(await files.exists(c!)).toBe(false);
      expect(await releaseHolds(db.pool, { fileKey: a! }, 'legal@example')).toBe(1);
      const again = await engine.run();
      expect(again).toMatchObject({ deleted_count: 1, held_count: 1, held_files: [b] });
      const audit = await db.pool.query(`SELECT action FROM audit_logs WHERE action LIKE 'cleanup_hold_%' ORDER BY id`);
      expect(audit.rows.map((r) => r.action)).toEqual(['cleanup_hold_placed', 'cleanup_hold_placed', 'cleanup_hold_released']);
      await expect(placeHold(db.pool, table, { target: { jobId: 'nope' }, reason: 'x', by: 'y' })).rejects.toThrow(/job id "nope": no such row/);
      await expect(placeHold(db.pool, table, { target: { fileKey: 'k' }, reason: ' ', by: 'y' })).rejects.toThrow(/reason: a hold needs a non-empty reason/);
    } finally {
      await engine.close();
    }
  });
});

describe('blast-radius guard', () => {
  it('refuses a run far above the recent median, pauses Lethe with the reason, and proceeds with allowLarge', async () => {
    const engine = createEngine({ databaseUrl: db.url, storage: `file://${files.root}`, threads: 1, blastRadiusFloor: 5, blastRadiusFactor: 10 });
    try {
      await seed(2, 'small');
      expect(await engine.run()).toMatchObject({ status: 'completed', deleted_count: 2 });
      await seed(60, 'big');
      await expect(engine.run()).rejects.toMatchObject({
        code: ErrorCodes.BLAST_RADIUS,
        message: expect.stringMatching(/would erase 60 files, above the blast-radius threshold 20/),
      });
      const control = await readControl(db.pool);
      expect(control).toMatchObject({ paused: true, pausedBy: 'lethe:blast-radius-guard' });
      expect(await files.exists('big/0.pdf')).toBe(true);
      await resume(db.pool, { by: 'oncall' });
      const s = await engine.run({ allowLarge: true });
      expect(s).toMatchObject({ status: 'completed', deleted_count: 60 });
      expect(s.blast_radius).toMatchObject({ wouldErase: 60, threshold: 20, allowed: false });
    } finally {
      await engine.close();
    }
  });

  it('refuses a run above the absolute cap even with no history', async () => {
    const engine = createEngine({ databaseUrl: db.url, storage: `file://${files.root}`, threads: 1, maxDeletesPerRun: 10 });
    try {
      await seed(11, 'cap');
      await expect(engine.run()).rejects.toMatchObject({
        code: ErrorCodes.BLAST_RADIUS,
        message: expect.stringMatching(/would erase 11 files, above the blast-radius threshold 10/),
      });
      await resume(db.pool, { by: 'oncall' });
      expect(await engine.run({ limit: 10 })).toMatchObject({ deleted_count: 10 });
    } finally {
      await engine.close();
    }
  });
});

describe('failure breaker', () => {
  it('stops a run where most deletes fail, pauses Lethe, and keeps every failed row', async () => {
    const keys = await seed(400, 'brk');
    const storage = new FaultyDeletes(new FileStorage({ root: files.root }), (key) => (Number(key.split('/')[1]!.split('.')[0]) % 4 !== 0 ? 'EIO' : null));
    const engine = createEngine({ databaseUrl: db.url, storage, batchSize: 50, maxBatchesInFlight: 1, breakerWindow: 100 });
    try {
      const s = await engine.run();
      expect(s.status).toBe('paused');
      expect(s.error?.code).toBe(ErrorCodes.FAILURE_BREAKER);
      expect(s.selected_count).toBeLessThan(400);
      expect(await readControl(db.pool)).toMatchObject({ paused: true, pausedBy: 'lethe:failure-breaker' });
      const left = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs`);
      expect(left.rows[0]!.n).toBe(400 - s.deleted_count);
      for (const k of keys) {
        const gone = !(await files.exists(k));
        if (gone) expect((await db.pool.query(`SELECT 1 FROM lethe_ledger WHERE file_key = $1 AND outcome IN ('erased','absent')`, [k])).rowCount).toBe(1);
      }
    } finally {
      await engine.close();
    }
  });

  it('a run with more than 10% failures finishes but is marked degraded', async () => {
    await seed(100, 'deg');
    const storage = new FaultyDeletes(new FileStorage({ root: files.root }), (key) => (Number(key.split('/')[1]!.split('.')[0]) % 5 === 0 ? 'EIO' : null));
    const engine = createEngine({ databaseUrl: db.url, storage, batchSize: 20 });
    try {
      const s = await engine.run();
      expect(s).toMatchObject({ status: 'completed', failed_count: 20, degraded: true });
      expect(s.degraded_reason).toMatch(/20 of 100 deletes failed \(20%, above 10%\)/);
    } finally {
      await engine.close();
    }
  });
});
