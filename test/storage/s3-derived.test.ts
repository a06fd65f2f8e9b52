import { afterAll, beforeAll, expect, it } from 'vitest';
import { createEngine, type EngineOptions } from '@lethe/engine';
import { verifyLedger } from '@lethe/engine/operations';
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand, ListObjectVersionsCommand, PutObjectCommand } from '@lethe/engine/testing';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { createBucket, s3Config, startS3Server, uniqueBucket, type S3TestServer } from '../support/s3-server.js';
import { describeS3 } from './describe-s3.js';

/**
 * Derived data on a versioned bucket (docs/rights.md#derived-data): after a run, no version or
 * delete marker of the source or of any derived object remains, incomplete multipart uploads under
 * the erased keys are aborted, and `lethe verify --ledger` (verifyLedger) proves them all absent.
 */
let server: S3TestServer;
let db: TestDatabase;
const bucket = uniqueBucket('derived');
const PREFIX = 'tenant/';

async function put(key: string, body: string): Promise<void> {
  await server.client.send(new PutObjectCommand({ Bucket: bucket, Key: `${PREFIX}${key}`, Body: body }));
}

/** Versions and delete markers of exactly the key (under the prefix). */
async function versionsOf(key: string): Promise<number> {
  const full = `${PREFIX}${key}`;
  const out = await server.client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: full }));
  return (out.Versions ?? []).filter((v) => v.Key === full).length + (out.DeleteMarkers ?? []).filter((m) => m.Key === full).length;
}

async function uploadsOf(key: string): Promise<number> {
  const full = `${PREFIX}${key}`;
  const out = await server.client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: full }));
  return (out.Uploads ?? []).filter((u) => u.Key === full).length;
}

describeS3('derived data on a versioned S3 bucket (moto or $LETHE_TEST_S3_ENDPOINT)', () => {
  beforeAll(async () => {
    server = await startS3Server();
    await createBucket(server, bucket, { versioned: true });
    db = await createTestDatabase('s3_derived');
    await createJobsTable(db.pool);
  });
  afterAll(async () => {
    await db?.drop();
    await server?.stop();
  });

  it('leaves no version, delete marker or incomplete upload of the source and its derived objects, and verify proves it', async () => {
    const expired = `(now() AT TIME ZONE 'UTC') - interval '2 days'`;
    const live = `(now() AT TIME ZONE 'UTC') - interval '1 hour'`;
    await db.pool.query(
      `INSERT INTO jobs (id, file_key, purpose_code, created_at) VALUES ('a', 'docs/a.pdf', 'System Testing', ${expired}), ('l', 'docs/l.pdf', 'System Testing', ${live})`,
    );
    const gone = ['docs/a.pdf', 'docs/a.pdf.ocr.json', 'pages/a/1.png', 'pages/a/2.png'];
    const kept = ['docs/l.pdf', 'docs/l.pdf.ocr.json', 'pages/l/1.png'];
    for (const k of [...gone, ...kept]) for (const body of ['v1', 'v2']) await put(k, body);
    // Multipart uploads still open at erased keys and under an erased prefix, and at live ones.
    for (const k of ['docs/a.pdf', 'docs/a.pdf.ocr.json', 'pages/a/3.png', 'docs/l.pdf', 'pages/l/9.png'])
      await server.client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: `${PREFIX}${k}` }));
    const options: EngineOptions = {
      pool: db.pool,
      storage: s3Config(server, bucket, PREFIX),
      threads: 1,
      deletesPerSecond: 0,
      derived: { objects: [{ template: '{file_key}.ocr.json' }, { template: 'pages/{id}/' }] },
    };
    const engine = createEngine(options);
    try {
      await engine.migrate();
      const summary = await engine.run();
      expect(summary.error).toBeNull();
      expect(summary.erased_count).toBe(1);
      for (const k of gone) expect(await versionsOf(k), k).toBe(0);
      for (const k of kept) expect(await versionsOf(k), k).toBe(2);
      expect(await uploadsOf('docs/a.pdf')).toBe(0);
      expect(await uploadsOf('docs/a.pdf.ocr.json')).toBe(0);
      // Under a derived prefix too (an object not listed yet: its upload is still open).
      expect(await uploadsOf('pages/a/3.png')).toBe(0);
      expect(await uploadsOf('pages/l/9.png')).toBe(1);
      expect(await uploadsOf('docs/l.pdf')).toBe(1);
      const evidence = await db.pool.query<{ object_key: string; outcome: string }>(
        `SELECT object_key, outcome FROM lethe_ledger_derived WHERE job_id = 'a' ORDER BY object_key`,
      );
      expect(evidence.rows).toEqual([
        { object_key: 'docs/a.pdf.ocr.json', outcome: 'erased' },
        { object_key: 'pages/a/1.png', outcome: 'erased' },
        { object_key: 'pages/a/2.png', outcome: 'erased' },
      ]);
      const verified = await verifyLedger(engine, { all: true });
      expect(verified.derived).toMatchObject({ objects_checked: 3, present: 0, unverifiable: 0 });
      expect(verified.unresolved).toBe(0);
      // A derived object brought back (a restore from a backup) is found.
      await put('pages/a/1.png', 'restored');
      const back = await verifyLedger(engine, { all: true });
      expect(back.derived.findings.map((f) => f.key)).toEqual(['pages/a/1.png']);
    } finally {
      await engine.close();
    }
  });
});
