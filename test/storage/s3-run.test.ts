import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { createEngine, type Engine } from '@lethe/engine';
import { ListObjectVersionsCommand, ListObjectsV2Command, PutObjectCommand, PutObjectLegalHoldCommand } from '@lethe/engine/testing';
import { createJobsTable, createTestDatabase, insertJobs, type JobSeed, type TestDatabase } from '../support/database.js';
import { createBucket, putObjects, startS3Server, uniqueBucket, type S3TestServer } from '../support/s3-server.js';
import { describeS3 } from './describe-s3.js';
import { isLetheOwn } from '../support/files.js';

let server: S3TestServer;
let db: TestDatabase;
const engines: Engine[] = [];
const utc = `(now() AT TIME ZONE 'UTC')`;

/** Keys of objects left under a prefix (current versions). */
async function keysLeft(bucket: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await server.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
    for (const o of page.Contents ?? []) if (!isLetheOwn(o.Key!.slice(prefix.length))) out.push(o.Key!.slice(prefix.length));
    token = page.NextContinuationToken;
  } while (token);
  return out.sort();
}

/** The run as an operator configures it: a storage URL; credentials from the SDK's own env sources. */
function engineFor(bucket: string, prefix: string): Engine {
  const url = `s3://${bucket}/${prefix}?endpoint=${encodeURIComponent(server.endpoint)}&forcePathStyle=true&region=${server.region}`;
  // Batches of 64 so a few hundred objects make several batches across both worker threads.
  const engine = createEngine({ databaseUrl: db.url, storage: url, threads: 2, batchSize: 64, deletesPerSecond: 0 });
  engines.push(engine);
  return engine;
}

describeS3('a Lethe run on real Postgres and a real S3 server (through the worker pool)', () => {
  beforeAll(async () => {
    server = await startS3Server();
    // Worker threads copy process.env when the pool starts; this file runs in its own process.
    vi.stubEnv('AWS_ACCESS_KEY_ID', server.credentials.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', server.credentials.secretAccessKey);
    db = await createTestDatabase('run_s3');
    await createJobsTable(db.pool);
    const migrator = createEngine({ databaseUrl: db.url, storage: 's3://placeholder-bucket/' });
    await migrator.migrate();
    await migrator.close();
  });
  afterAll(async () => {
    for (const e of engines) await e.close();
    vi.unstubAllEnvs();
    await db?.drop();
    await server?.stop();
  });

  it('deletes expired objects under the prefix, keeps the rest, and writes the ledger', async () => {
    const bucket = await createBucket(server, uniqueBucket('run'));
    const expired = Array.from({ length: 200 }, (_, i) => `docs/${Math.floor(i / 100)}/e${i}.pdf`);
    const fresh = Array.from({ length: 20 }, (_, i) => `docs/new/n${i}.pdf`);
    await putObjects(
      server,
      bucket,
      [...expired, ...fresh, 'evil.pdf'].map((k) => `tenant/${k}`),
    );
    await putObjects(server, bucket, ['docs/0/e0.pdf']); // same key outside the prefix: never touched
    const rows: JobSeed[] = [
      ...expired.map((k, i) => ({ id: `e${i}`, fileKey: k, purpose: 'System Testing', createdAtSql: `${utc} - interval '2 days'` })),
      ...fresh.map((k, i) => ({ id: `n${i}`, fileKey: k, purpose: 'System Testing', createdAtSql: `${utc} - interval '1 hour'` })),
      { id: 'x-escape', fileKey: '../evil.pdf', purpose: 'General', createdAtSql: `${utc} - interval '40 days'` },
    ];
    await insertJobs(db.pool, rows);

    const engine = engineFor(bucket, 'tenant/');
    const summary = await engine.run();
    expect(summary).toMatchObject({ status: 'completed', deleted_count: 200, erased_count: 200, failed_count: 0, refused_count: 1 });
    expect(await keysLeft(bucket, 'tenant/')).toEqual(['evil.pdf', ...fresh].sort());
    expect(await keysLeft(bucket, 'docs/')).toEqual(['0/e0.pdf']);
    const ledger = await db.pool.query<{ outcome: string; n: string }>('SELECT outcome, count(*) AS n FROM lethe_ledger GROUP BY outcome ORDER BY outcome');
    expect(ledger.rows).toEqual([
      { outcome: 'erased', n: '200' },
      { outcome: 'refused', n: '1' },
    ]);
    const left = await db.pool.query<{ n: string }>(`SELECT count(*) AS n FROM jobs WHERE id LIKE 'e%'`);
    expect(left.rows[0]?.n).toBe('0');
    expect(await engine.storage().describeState?.()).toMatchObject({ versioning: 'Unversioned', deletes: 'plain delete' });
  });

  it('on an Object Lock bucket: erases every version, reports absent keys, keeps the held one and its row', async () => {
    await db.pool.query('DELETE FROM jobs');
    const bucket = await createBucket(server, uniqueBucket('run-locked'), { objectLock: true });
    const keys = Array.from({ length: 30 }, (_, i) => `v/k${i}.pdf`);
    await putObjects(server, bucket, keys);
    await putObjects(server, bucket, keys, 'second version');
    const held = await server.client.send(new PutObjectCommand({ Bucket: bucket, Key: 'v/held.pdf', Body: 'x' }));
    await server.client.send(new PutObjectLegalHoldCommand({ Bucket: bucket, Key: 'v/held.pdf', VersionId: held.VersionId!, LegalHold: { Status: 'ON' } }));
    await insertJobs(db.pool, [
      ...keys.map((k, i) => ({ id: `k${i}`, fileKey: k.slice(2), purpose: 'General', createdAtSql: `${utc} - interval '40 days'` })),
      { id: 'held', fileKey: 'held.pdf', purpose: 'General', createdAtSql: `${utc} - interval '40 days'` },
      { id: 'gone', fileKey: 'gone.pdf', purpose: 'General', createdAtSql: `${utc} - interval '40 days'` },
    ]);
    const engine = engineFor(bucket, 'v/');
    const summary = await engine.run();
    expect(summary).toMatchObject({ status: 'completed', erased_count: 30, absent_count: 1, deleted_count: 31, failed_count: 1 });
    expect(summary.errors[0]).toMatchObject({ job_id: 'held', code: 'AccessDenied' });
    const versions = await server.client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: 'v/' }));
    expect((versions.Versions ?? []).map((v) => v.Key).filter((k) => !isLetheOwn(k!))).toEqual(['v/held.pdf']);
    expect(versions.DeleteMarkers ?? []).toEqual([]);
    const kept = await db.pool.query<{ id: string }>('SELECT id FROM jobs ORDER BY id');
    expect(kept.rows.map((r) => r.id)).toEqual(['held']);
    expect(await engine.storage().describeState?.()).toMatchObject({ versioning: 'Enabled', versions_mode: 'erase-all', absent_observable: true });
  });
});
