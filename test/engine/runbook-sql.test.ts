import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '@lethe/engine';
import { createJobsTable, createTestDatabase, insertJobs, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';

/** The runbook's SQL (../shared/RUNBOOK.md), verbatim, against what Lethe writes. */
let db: TestDatabase;
let files: TempRoot;
let engine: Engine;
const UTC_NOW = `(now() AT TIME ZONE 'UTC')`;

beforeAll(async () => {
  db = await createTestDatabase('runbook_sql');
  files = await createTempRoot('runbook');
  await createJobsTable(db.pool);
  engine = createEngine({ databaseUrl: db.url, storage: `file://${files.root}`, threads: 1 });
  await engine.migrate();
  await insertJobs(db.pool, [
    { id: 'j1', fileKey: 'user_reported_file.pdf', purpose: 'System Testing', createdAtSql: `${UTC_NOW} - interval '3 days'` },
    { id: 'j2', fileKey: 'other.pdf', purpose: 'General', createdAtSql: `${UTC_NOW} - interval '31 days'` },
    { id: 'j3', fileKey: 'dir.pdf', purpose: 'General', createdAtSql: `${UTC_NOW} - interval '31 days'` },
    { id: 'j4', fileKey: 'fresh.pdf', purpose: 'Financial', createdAtSql: `${UTC_NOW} - interval '3 days'` },
  ]);
  await files.put('user_reported_file.pdf');
  await files.put('other.pdf');
  await files.put('fresh.pdf');
  await files.put('dir.pdf/inside'); // a directory where a file should be: a failure
  await engine.run();
});

afterAll(async () => {
  await engine.close();
  await db.drop();
  await files.remove();
});

describe("the runbook's queries work verbatim", () => {
  it('OP-001 verification', async () => {
    const { rows } = await db.pool.query(`SELECT * FROM audit_logs 
WHERE action = 'cleanup_expired_jobs' 
ORDER BY timestamp DESC 
LIMIT 1;`);
    expect(rows).toHaveLength(1);
    expect(rows[0].details).toMatchObject({ deleted_count: 2, failed_count: 1 });
  });

  it('OP-004 history', async () => {
    const { rows } = await db.pool.query(`SELECT 
    timestamp,
    details->>'deleted_count' as deleted,
    details->>'failed_count' as failed
FROM audit_logs
WHERE action = 'cleanup_expired_jobs'
ORDER BY timestamp DESC
LIMIT 10;`);
    expect(rows).toEqual([{ timestamp: expect.any(Date), deleted: '2', failed: '1' }]);
  });

  it('FM-002 diagnosis', async () => {
    const { rows } = await db.pool.query(`SELECT 
    details->>'failed_files' as files,
    details->>'errors' as errors
FROM audit_logs
WHERE action = 'cleanup_expired_jobs'
ORDER BY timestamp DESC
LIMIT 1;`);
    expect(JSON.parse(rows[0].files)).toEqual(['dir.pdf']);
    expect(JSON.parse(rows[0].errors)).toEqual([expect.objectContaining({ file_key: 'dir.pdf', job_id: 'j3', code: 'EISDIR' })]);
  });

  it('FM-003 investigation: the row is gone, the audit row names the key', async () => {
    const jobs = await db.pool.query(`SELECT 
    id, file_key, purpose_code, created_at, 
    (EXTRACT(EPOCH FROM (NOW() - created_at)) / 3600) as age_hours
FROM jobs
WHERE file_key = 'user_reported_file.pdf';`);
    expect(jobs.rows).toEqual([]);
    const audit = await db.pool.query(`SELECT details
FROM audit_logs
WHERE action = 'cleanup_expired_jobs'
  AND details::text LIKE '%user_reported_file.pdf%';`);
    expect(audit.rows).toHaveLength(1);
    expect(audit.rows[0].details.erased_keys).toContain('user_reported_file.pdf');
  });

  it('FM-004 duration', async () => {
    const { rows } = await db.pool.query(`
    SELECT 
        timestamp,
        details->>'deleted_count' as deleted,
        details->>'duration_seconds' as duration
    FROM audit_logs
    WHERE action = 'cleanup_expired_jobs'
    ORDER BY timestamp DESC
    LIMIT 5
`);
    expect(Number(rows[0].duration)).toBeGreaterThanOrEqual(0);
    expect(rows[0].deleted).toBe('2');
  });

  it('Compliance Reporting monthly query', async () => {
    const { rows } = await db.pool.query(`SELECT 
    DATE_TRUNC('day', timestamp) as date,
    SUM((details->>'deleted_count')::int) as deleted,
    SUM((details->>'failed_count')::int) as failed
FROM audit_logs
WHERE 
    action = 'cleanup_expired_jobs'
    AND timestamp >= NOW() - INTERVAL '30 days'
GROUP BY date
ORDER BY date;`);
    expect(rows).toEqual([{ date: expect.any(Date), deleted: '2', failed: '1' }]);
  });

  it('dry runs and other actions stay out of the runbook counts', async () => {
    await engine.run({ dryRun: true });
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM audit_logs WHERE action = 'cleanup_expired_jobs'`);
    expect(rows[0].n).toBe(1);
  });
});
