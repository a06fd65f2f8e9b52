import { afterAll, beforeAll, expect, it } from 'vitest';
import { createEngine, FINANCIAL_RETAINED_UNDER, runErasureRequest, submitErasureRequest, type Engine } from '@lethe/engine';
import { ListObjectVersionsCommand } from '@lethe/engine/testing';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { createBucket, putObjects, s3Config, startS3Server, uniqueBucket, type S3TestServer } from '../support/s3-server.js';
import { describeS3 } from './describe-s3.js';

/**
 * An erasure request on a real S3 server (moto), versioned bucket (docs/rights.md): the principal's
 * objects go with every version (the same delete path as retention runs), the Financial one is
 * refused with its statute, and a key another principal's row shares keeps all its versions.
 */
let server: S3TestServer;
let db: TestDatabase;
let engine: Engine;
const bucket = uniqueBucket('erasure-req');

const versionsOf = async (key: string): Promise<number> => {
  const out = await server.client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: `docs/${key}` }));
  return [...(out.Versions ?? []), ...(out.DeleteMarkers ?? [])].filter((v) => v.Key === `docs/${key}`).length;
};

describeS3('erasure request on S3', () => {
  beforeAll(async () => {
    [server, db] = await Promise.all([startS3Server(), createTestDatabase('s3_erasure_req')]);
    await createBucket(server, bucket, { versioned: true });
    await createJobsTable(db.pool);
    await db.pool.query(`ALTER TABLE jobs ADD COLUMN user_id text`);
    await db.pool.query(`INSERT INTO jobs (id, user_id, purpose_code, file_key, created_at) VALUES
      ('a', 'u1', 'General', 'u1/a.pdf', now() - interval '1 day'),
      ('b', 'u1', 'Medical', 'u1/b.pdf', now() - interval '1 day'),
      ('inv', 'u1', 'Financial', 'u1/inv.pdf', now() - interval '1 day'),
      ('s1', 'u1', 'General', 'shared.pdf', now() - interval '1 day'),
      ('s2', 'u2', 'General', 'shared.pdf', now() - interval '1 day')`);
    const keys = ['u1/a.pdf', 'u1/b.pdf', 'u1/inv.pdf', 'shared.pdf'].map((k) => `docs/${k}`);
    await putObjects(server, bucket, keys);
    await putObjects(server, bucket, keys, 'second version');
    engine = createEngine({
      databaseUrl: db.url,
      storage: s3Config(server, bucket, 'docs/'),
      threads: 1,
      policies: { General: '30d', Medical: '10y', Financial: { retention: '1y', retainedUnder: FINANCIAL_RETAINED_UNDER } },
      erasure: { principalColumn: 'user_id' },
    });
    await engine.migrate();
  });
  afterAll(async () => {
    await engine?.close();
    await server?.stop();
    await db?.drop();
  });

  it("erases every version of the principal's objects, refuses Financial, keeps a shared object", async () => {
    await submitErasureRequest(engine, {
      reference: 'S3-REQ-1',
      target: { kind: 'principal', values: ['u1'] },
      requestedBy: 'u1',
      reason: 'request',
      submittedBy: 'dpo',
    });
    const { run, request, record } = await runErasureRequest(engine, 'S3-REQ-1');
    expect(run).toMatchObject({ status: 'completed', erased_count: 2, failed_count: 0 });
    expect(request.state).toBe('completed');
    expect(record).toMatchObject({
      rows_erased: 2,
      files_erased: 2,
      rows_unlinked: 1,
      retained: [{ purpose: 'Financial', statute: FINANCIAL_RETAINED_UNDER, rows: 1 }],
    });
    expect(await versionsOf('u1/a.pdf')).toBe(0);
    expect(await versionsOf('u1/b.pdf')).toBe(0);
    expect(await versionsOf('u1/inv.pdf')).toBe(2);
    expect(await versionsOf('shared.pdf')).toBe(2);
    const left = await db.pool.query<{ id: string }>('SELECT id FROM jobs ORDER BY id');
    expect(left.rows.map((r) => r.id)).toEqual(['inv', 's2']);
  });
});
