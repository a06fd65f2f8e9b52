import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { createEngine, createStorage, ErrorCodes, type Engine, type S3StorageConfig } from '@lethe/engine';
import { purgeTrash } from '@lethe/engine/operations';
import { restoreFile } from '@lethe/engine/operations';
import { DeleteObjectsCommand, HeadObjectCommand, PutBucketVersioningCommand, PutObjectCommand } from '@lethe/engine/testing';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { createBucket, putObjects, s3Config, startS3Server, uniqueBucket, type S3TestServer } from '../support/s3-server.js';
import { describeS3 } from '../storage/describe-s3.js';

/**
 * An undo window with versions=keep on a versioning-Suspended bucket recorded `?versionId=null`
 * trash that could not be restored, and a later purge deleted a newer upload at that key. Now the
 * run is refused at start, a null version is copied instead of kept, and purge deletes nothing
 * newer than its trash record.
 */
let server: S3TestServer;
let db: TestDatabase;
const engines: Engine[] = [];
const PREFIX = 'tenant/';

function engineFor(config: S3StorageConfig): Engine {
  const e = createEngine({ databaseUrl: db.url, storage: config, threads: 1, undoWindow: '7d' });
  engines.push(e);
  return e;
}

const setVersioning = (bucket: string, status: 'Enabled' | 'Suspended'): Promise<unknown> =>
  server.client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: status } }));

async function addRows(keys: readonly string[]): Promise<void> {
  await db.pool.query(
    `INSERT INTO jobs (id, file_key, purpose_code, created_at) SELECT k, k, 'General', (now() AT TIME ZONE 'UTC') - interval '40 days' FROM unnest($1::text[]) k`,
    [keys],
  );
}

async function etag(bucket: string, key: string): Promise<string | null> {
  try {
    return (await server.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag ?? null;
  } catch {
    return null;
  }
}

const md5Etag = (content: string): string => `"${createHash('md5').update(content).digest('hex')}"`;

const ledger = async (where: string): Promise<Record<string, unknown>[]> => (await db.pool.query(`SELECT * FROM lethe_ledger WHERE ${where} ORDER BY id`)).rows;

/** The trash record (and its run) as if made an hour ago, and due now. */
const backdateRecords = async (): Promise<void> => {
  await db.pool.query(
    `UPDATE lethe_ledger SET erased_at = erased_at - interval '1 hour', purge_after = now() - interval '1 second' WHERE outcome = 'trashed' AND settled_at IS NULL`,
  );
  await db.pool.query(
    `UPDATE lethe_runs SET started_at = started_at - interval '1 hour', ended_at = ended_at - interval '1 hour', heartbeat_at = heartbeat_at - interval '1 hour'`,
  );
};

describeS3('undo window on S3: restorable or refused, and purge never deletes a newer object', () => {
  beforeAll(async () => {
    server = await startS3Server();
    db = await createTestDatabase('s3_undo_newer');
    await createJobsTable(db.pool);
    const m = createEngine({ databaseUrl: db.url });
    await m.migrate();
    await m.close();
  });
  afterAll(async () => {
    await Promise.all(engines.map((e) => e.close()));
    await db?.drop();
    await server?.stop();
  });
  beforeEach(async () => {
    await db.pool.query('TRUNCATE jobs, lethe_runs, lethe_ledger, lethe_holds');
  });

  it('versions=keep on a Suspended bucket: every run is refused at start, naming the bucket, the state and what to do; nothing is deleted', async () => {
    const bucket = await createBucket(server, uniqueBucket('undo-suspended'), { versioned: true });
    await setVersioning(bucket, 'Suspended');
    await putObjects(server, bucket, [`${PREFIX}s/1.pdf`]);
    await addRows(['s/1.pdf']);
    const engine = engineFor(s3Config(server, bucket, PREFIX, { versions: 'keep' }));
    const refused = {
      code: ErrorCodes.UNDO_WINDOW,
      message: expect.stringMatching(new RegExp(`bucket "${bucket}".*versioning Suspended.*Enable versioning.*versions=erase-all.*Nothing was deleted`)),
    };
    await expect(engine.run()).rejects.toMatchObject(refused);
    await expect(engine.run({ dryRun: true })).rejects.toMatchObject(refused);
    await expect(engine.run({ group: 'suspended-group' })).rejects.toMatchObject(refused);
    expect(await etag(bucket, `${PREFIX}s/1.pdf`)).not.toBeNull();
    expect((await db.pool.query('SELECT id FROM jobs')).rows).toEqual([{ id: 's/1.pdf' }]);
    expect(await ledger('true')).toEqual([]);

    // The copy shape the message names works on the same bucket, and restores the file.
    const original = await etag(bucket, `${PREFIX}s/1.pdf`);
    const copying = engineFor(s3Config(server, bucket, PREFIX, { versions: 'erase-all' }));
    const s = await copying.run();
    expect(s).toMatchObject({ status: 'completed', deleted_count: 1, failed_count: 0 });
    expect((await ledger(`outcome = 'trashed'`)).map((r) => r.trash_location)).toEqual([`.lethe/trash/${s.run_id}/s/1.pdf`]);
    expect(await restoreFile(copying, { fileKey: 's/1.pdf', by: 'test' })).toMatchObject({ restored_job_ids: ['s/1.pdf'] });
    expect(await etag(bucket, `${PREFIX}s/1.pdf`)).toBe(original);
  });

  it('versions=keep on an Enabled bucket: a file with a null version (written before versioning) is copied into the trash, never recorded as ?versionId=null', async () => {
    const bucket = await createBucket(server, uniqueBucket('undo-null-version'));
    await putObjects(server, bucket, [`${PREFIX}n/old.pdf`]);
    await setVersioning(bucket, 'Enabled');
    await putObjects(server, bucket, [`${PREFIX}n/new.pdf`]);
    await addRows(['n/old.pdf', 'n/new.pdf']);
    const original = await etag(bucket, `${PREFIX}n/old.pdf`);
    const engine = engineFor(s3Config(server, bucket, PREFIX, { versions: 'keep' }));
    const s = await engine.run();
    expect(s).toMatchObject({ status: 'completed', deleted_count: 2, failed_count: 0 });
    const locations = Object.fromEntries((await ledger(`outcome = 'trashed'`)).map((r) => [r.job_id, r.trash_location as string]));
    expect(locations['n/old.pdf']).toBe(`.lethe/trash/${s.run_id}/n/old.pdf`);
    expect(locations['n/new.pdf']).toMatch(new RegExp(`^\\.lethe/trash/${s.run_id}/n/new\\.pdf\\?versionId=(?!null$).+`));
    expect(await restoreFile(engine, { fileKey: 'n/old.pdf', by: 'test' })).toMatchObject({ restored_job_ids: ['n/old.pdf'] });
    expect(await etag(bucket, `${PREFIX}n/old.pdf`)).toBe(original);
  });

  it('a ?versionId=null trash record left by an earlier Lethe: purge leaves the newer upload at the key, and records a vanished one as already gone', async () => {
    const bucket = await createBucket(server, uniqueBucket('undo-null-newer'), { versioned: true });
    await setVersioning(bucket, 'Suspended');
    await putObjects(server, bucket, [`${PREFIX}u/1.pdf`, `${PREFIX}u/2.pdf`], 'the trashed file');
    // What the earlier Lethe did: a plain delete (on a Suspended bucket it removes the null version) and a `?versionId=null` record.
    await server.client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: `${PREFIX}u/1.pdf` }, { Key: `${PREFIX}u/2.pdf` }] } }));
    const runId = randomUUID();
    await db.pool.query(
      `INSERT INTO lethe_ledger (run_id, job_id, file_key, purpose_code, outcome, trash_location, undo_window, purge_after, erased_at)
       SELECT $1::uuid, k, k, 'General', 'trashed', '.lethe/trash/' || $1 || '/' || k || '?versionId=null', interval '7 days', now() - interval '1 second', now() - interval '1 hour'
         FROM unnest($2::text[]) k`,
      [runId, ['u/1.pdf', 'u/2.pdf']],
    );
    // A newer upload at the first key takes the null version id.
    await server.client.send(new PutObjectCommand({ Bucket: bucket, Key: `${PREFIX}u/1.pdf`, Body: 'a newer upload' }));
    const newer = await etag(bucket, `${PREFIX}u/1.pdf`);
    expect(newer).toBe(md5Etag('a newer upload'));

    const engine = engineFor(s3Config(server, bucket, PREFIX, { versions: 'erase-all' }));
    const report = await purgeTrash(engine, { by: 'test' });
    expect(report).toMatchObject({ due: 2, purged: 1, files_deleted: 0, files_already_gone: 1, failed: 0, newer: 1 });
    expect(report.failures).toEqual([
      {
        trash_location: `.lethe/trash/${runId}/u/1.pdf?versionId=null`,
        code: ErrorCodes.TRASH_NEWER,
        message: expect.stringMatching(/version null\) was written at .* after its trash record .* left in place/),
      },
    ]);
    expect(await etag(bucket, `${PREFIX}u/1.pdf`)).toBe(newer);
    expect((await ledger(`job_id = 'u/1.pdf'`)).map((r) => [r.outcome, r.settled_at])).toEqual([['trashed', null]]);
    expect((await ledger(`job_id = 'u/2.pdf'`)).map((r) => [r.outcome, r.error_code])).toEqual([
      ['trashed', null],
      ['purged', 'LETHE_TRASH_ALREADY_GONE'],
    ]);
  });

  it.each([
    ['unversioned', undefined, 'erase-all'],
    ['versioned, erase-all', 'Enabled', 'erase-all'],
    ['versions=keep, a file written before versioning was enabled (copied)', 'Enabled-after-upload', 'keep'],
  ] as const)('%s: a trash copy overwritten after its record is left in place by purge', async (_label, versioning, versions) => {
    const bucket = await createBucket(server, uniqueBucket('undo-copy-newer'), { versioned: versioning === 'Enabled' });
    await putObjects(server, bucket, [`${PREFIX}c/1.pdf`]);
    if (versioning === 'Enabled-after-upload') await setVersioning(bucket, 'Enabled');
    await addRows(['c/1.pdf']);
    const engine = engineFor(s3Config(server, bucket, PREFIX, { versions }));
    const s = await engine.run();
    expect(s).toMatchObject({ deleted_count: 1, failed_count: 0 });
    const copyKey = `${PREFIX}.lethe/trash/${s.run_id}/c/1.pdf`;
    expect((await ledger(`outcome = 'trashed'`)).map((r) => r.trash_location)).toEqual([`.lethe/trash/${s.run_id}/c/1.pdf`]);
    await backdateRecords();
    await server.client.send(new PutObjectCommand({ Bucket: bucket, Key: copyKey, Body: 'written into the trash later' }));
    const overwritten = await etag(bucket, copyKey);

    const report = await purgeTrash(engine, { by: 'test' });
    expect(report).toMatchObject({ due: 1, purged: 0, failed: 0, newer: 1 });
    expect(await etag(bucket, copyKey)).toBe(overwritten);
  });

  it('the adapter on a bucket suspended after the run-start check copies instead of keeping a version, so the trash stays restorable', async () => {
    const bucket = await createBucket(server, uniqueBucket('undo-suspended-late'), { versioned: true });
    await setVersioning(bucket, 'Suspended');
    await putObjects(server, bucket, [`${PREFIX}l/1.pdf`], 'late');
    const storage = await createStorage(s3Config(server, bucket, PREFIX, { versions: 'keep' }));
    try {
      const run = randomUUID();
      const [moved] = await storage.trashMany!([{ key: 'l/1.pdf', trashKey: `.lethe/trash/${run}/l/1.pdf` }]);
      expect(moved).toEqual({ key: 'l/1.pdf', outcome: 'erased', trash: `.lethe/trash/${run}/l/1.pdf` });
      expect(await etag(bucket, `${PREFIX}l/1.pdf`)).toBeNull();
      expect(await storage.restoreFromTrash!(moved!.trash!, 'l/1.pdf')).toEqual({ outcome: 'restored' });
      expect(await etag(bucket, `${PREFIX}l/1.pdf`)).toBe(md5Etag('late'));
    } finally {
      await storage.close();
    }
  });
});
