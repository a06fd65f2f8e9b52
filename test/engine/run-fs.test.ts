import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '@lethe/engine';
import { createJobsTable, createTestDatabase, insertJobs, type TestDatabase } from '../support/database.js';

let db: TestDatabase;
let root: string;
let engine: Engine;

async function touch(key: string): Promise<void> {
  const path = join(root, key);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, 'x');
}
const exists = (key: string) =>
  stat(join(root, key)).then(
    () => true,
    () => false,
  );

beforeAll(async () => {
  db = await createTestDatabase('run_fs');
  root = await mkdtemp(join(tmpdir(), 'lethe-run-fs-'));
  await createJobsTable(db.pool);
  engine = createEngine({ databaseUrl: db.url, storage: `file://${root}`, threads: 1 });
  await engine.migrate();
});

afterAll(async () => {
  await engine.close();
  await db.drop();
  await rm(root, { recursive: true, force: true });
});

describe('a run on real Postgres and files', () => {
  it('deletes exactly the expired files and rows and writes ledger and audit rows', async () => {
    const utc = `(now() AT TIME ZONE 'UTC')`;
    await insertJobs(db.pool, [
      { id: 'st-old', fileKey: 'a/st-old.pdf', purpose: 'System Testing', createdAtSql: `${utc} - interval '25 hours'` },
      { id: 'st-new', fileKey: 'a/st-new.pdf', purpose: 'System Testing', createdAtSql: `${utc} - interval '23 hours'` },
      { id: 'gen-old', fileKey: 'b/gen-old.pdf', purpose: 'General', createdAtSql: `${utc} - interval '31 days'` },
      { id: 'fin-new', fileKey: 'c/fin.pdf', purpose: 'Financial', createdAtSql: `${utc} - interval '300 days'` },
      { id: 'unknown', fileKey: 'd/u.pdf', purpose: 'Marketing', createdAtSql: `${utc} - interval '20 years'` },
      { id: 'gone', fileKey: 'e/gone.pdf', purpose: 'General', createdAtSql: `${utc} - interval '40 days'` },
      { id: 'evil', fileKey: '../etc/passwd', purpose: 'General', createdAtSql: `${utc} - interval '40 days'` },
    ]);
    for (const k of ['a/st-old.pdf', 'a/st-new.pdf', 'b/gen-old.pdf', 'c/fin.pdf', 'd/u.pdf']) await touch(k);
    const summary = await engine.run();
    expect(summary.error).toBeNull();
    expect(summary.status).toBe('completed');
    expect(summary.deleted_count).toBe(3);
    expect(summary.erased_count).toBe(2);
    expect(summary.absent_count).toBe(1);
    expect(summary.refused_count).toBe(1);
    expect(summary.failed_count).toBe(0);
    expect(await exists('a/st-old.pdf')).toBe(false);
    expect(await exists('b/gen-old.pdf')).toBe(false);
    expect(await exists('a/st-new.pdf')).toBe(true);
    expect(await exists('c/fin.pdf')).toBe(true);
    expect(await exists('d/u.pdf')).toBe(true);
    const left = (await db.pool.query<{ id: string }>('SELECT id FROM jobs ORDER BY id')).rows.map((r) => r.id);
    expect(left).toEqual(['evil', 'fin-new', 'st-new', 'unknown']);
    const ledger = await db.pool.query<{ job_id: string; outcome: string }>('SELECT job_id, outcome FROM lethe_ledger ORDER BY job_id');
    expect(ledger.rows).toEqual([
      { job_id: 'evil', outcome: 'refused' },
      { job_id: 'gen-old', outcome: 'erased' },
      { job_id: 'gone', outcome: 'absent' },
      { job_id: 'st-old', outcome: 'erased' },
    ]);
    expect(summary.unreadable).toEqual([{ purpose: 'Marketing', reason: 'unknown_purpose', count: 1, capped: false, sample_ids: ['unknown'] }]);
    const history = await db.pool.query(`SELECT timestamp, details->>'deleted_count' as deleted, details->>'failed_count' as failed
      FROM audit_logs WHERE action = 'cleanup_expired_jobs' ORDER BY timestamp DESC LIMIT 10`);
    expect(history.rows).toHaveLength(1);
    expect(history.rows[0]).toMatchObject({ deleted: '3', failed: '0' });
  });
});
