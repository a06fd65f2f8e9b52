import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { createEngine, ErrorCodes, type Engine, type S3StorageConfig } from '@lethe/engine';
import { purgeTrash } from '@lethe/engine/operations';
import { restoreFile } from '@lethe/engine/operations';
import { HeadObjectCommand, ListObjectVersionsCommand, ListObjectsV2Command } from '@lethe/engine/testing';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { createBucket, putObjects, s3Config, startS3Server, uniqueBucket, type S3TestServer } from '../support/s3-server.js';
import { describeS3 } from '../storage/describe-s3.js';

/** The undo window on a real S3 server (moto): copy into the trash prefix, or keep the prior version. */
let server: S3TestServer;
let db: TestDatabase;
const engines: Engine[] = [];
const PREFIX = 'tenant/';

function engineFor(config: S3StorageConfig, extra: { ledgerKeyHmacSecret?: string } = {}): Engine {
  const e = createEngine({ databaseUrl: db.url, storage: config, threads: 1, undoWindow: '7d', ...extra });
  engines.push(e);
  return e;
}

async function seed(bucket: string, keys: readonly string[]): Promise<void> {
  await putObjects(
    server,
    bucket,
    keys.map((k) => PREFIX + k),
  );
  await db.pool.query(
    `INSERT INTO jobs (id, file_key, purpose_code, created_at) SELECT k, k, 'General', (now() AT TIME ZONE 'UTC') - interval '40 days' FROM unnest($1::text[]) k`,
    [keys],
  );
}

async function etag(bucket: string, key: string, versionId?: string): Promise<string | null> {
  try {
    return (await server.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }))).ETag ?? null;
  } catch {
    return null;
  }
}

async function listed(bucket: string, prefix: string): Promise<string[]> {
  const page = await server.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  // The erasure journal is Lethe's own; the trash (also under .lethe/) is what these tests look at.
  return (page.Contents ?? [])
    .map((o) => o.Key!)
    .filter((k) => !k.includes('.lethe/journal/'))
    .sort();
}

const ledger = async (where: string): Promise<Record<string, unknown>[]> => (await db.pool.query(`SELECT * FROM lethe_ledger WHERE ${where} ORDER BY id`)).rows;
const backdate = (): Promise<unknown> =>
  db.pool.query(`UPDATE lethe_ledger SET purge_after = now() - interval '1 second' WHERE outcome = 'trashed' AND settled_at IS NULL`);

describeS3('undo window on S3', () => {
  beforeAll(async () => {
    server = await startS3Server();
    db = await createTestDatabase('s3_undo');
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

  it('unversioned bucket: copies into <prefix>.lethe/trash/<run>/<key> then deletes; restores byte-identical; purged, it is gone', async () => {
    const bucket = await createBucket(server, uniqueBucket('undo-plain'));
    await seed(bucket, ['docs/a.pdf', 'docs/b.pdf']);
    const original = await etag(bucket, `${PREFIX}docs/a.pdf`);
    const engine = engineFor(s3Config(server, bucket, PREFIX));
    const s = await engine.run();
    expect(s).toMatchObject({ status: 'completed', deleted_count: 2, failed_count: 0 });
    expect(await listed(bucket, PREFIX)).toEqual([`${PREFIX}.lethe/trash/${s.run_id}/docs/a.pdf`, `${PREFIX}.lethe/trash/${s.run_id}/docs/b.pdf`]);
    expect((await ledger(`outcome = 'trashed'`)).map((r) => r.trash_location)).toEqual([
      `.lethe/trash/${s.run_id}/docs/a.pdf`,
      `.lethe/trash/${s.run_id}/docs/b.pdf`,
    ]);

    const r = await restoreFile(engine, { fileKey: 'docs/a.pdf', by: 'test' });
    expect(r.restored_job_ids).toEqual(['docs/a.pdf']);
    expect(await etag(bucket, `${PREFIX}docs/a.pdf`)).toBe(original);
    expect(await listed(bucket, `${PREFIX}.lethe/`)).toEqual([`${PREFIX}.lethe/trash/${s.run_id}/docs/b.pdf`]);

    await backdate();
    expect(await purgeTrash(engine, { by: 'test' })).toMatchObject({ purged: 1, failed: 0 });
    expect(await listed(bucket, `${PREFIX}.lethe/`)).toEqual([]);
    await expect(restoreFile(engine, { fileKey: 'docs/b.pdf', by: 'test' })).rejects.toMatchObject({ code: ErrorCodes.GONE });
  });

  it('versioned bucket in keep mode: the delete leaves a marker, the prior version is the trash; restore brings it back, purge deletes that version', async () => {
    const bucket = await createBucket(server, uniqueBucket('undo-keep'), { versioned: true });
    await seed(bucket, ['v/1.pdf', 'v/2.pdf']);
    const original = await etag(bucket, `${PREFIX}v/1.pdf`);
    const engine = engineFor(s3Config(server, bucket, PREFIX, { versions: 'keep' }));
    const s = await engine.run();
    expect(s).toMatchObject({ deleted_count: 2, failed_count: 0 });
    expect(await listed(bucket, PREFIX)).toEqual([]); // no copies: the versions are the trash
    const trashed = await ledger(`outcome = 'trashed'`);
    const loc = trashed.find((t) => t.job_id === 'v/2.pdf')!.trash_location as string;
    expect(loc).toMatch(new RegExp(`^\\.lethe/trash/${s.run_id}/v/2\\.pdf\\?versionId=.+`));
    const versionId = loc.split('?versionId=')[1]!;
    expect(await etag(bucket, `${PREFIX}v/2.pdf`, versionId)).not.toBeNull();

    await restoreFile(engine, { fileKey: 'v/1.pdf', by: 'test' });
    expect(await etag(bucket, `${PREFIX}v/1.pdf`)).toBe(original);

    await backdate();
    expect(await purgeTrash(engine, { by: 'test' })).toMatchObject({ purged: 1, failed: 0 });
    const versions = await server.client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: `${PREFIX}v/2.pdf` }));
    expect((versions.Versions ?? []).map((v) => v.VersionId)).not.toContain(versionId);
  });

  it('versioned bucket in erase-all mode: copies into the trash, erases every version of the original; purge erases every version of the copy', async () => {
    const bucket = await createBucket(server, uniqueBucket('undo-eraseall'), { versioned: true });
    await seed(bucket, ['e/1.pdf']);
    const engine = engineFor(s3Config(server, bucket, PREFIX));
    const s = await engine.run();
    expect(s).toMatchObject({ deleted_count: 1, failed_count: 0 });
    const versionsOf = async (key: string): Promise<number> => {
      const v = await server.client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
      return (v.Versions ?? []).length + (v.DeleteMarkers ?? []).length;
    };
    expect(await versionsOf(`${PREFIX}e/1.pdf`)).toBe(0);
    const copy = `${PREFIX}.lethe/trash/${s.run_id}/e/1.pdf`;
    expect(await versionsOf(copy)).toBe(1);
    await backdate();
    expect(await purgeTrash(engine, { by: 'test' })).toMatchObject({ purged: 1, failed: 0 });
    expect(await versionsOf(copy)).toBe(0);
  });

  it('HMAC keys on a keep-mode bucket use the copy shape, so no trash location names the key', async () => {
    const bucket = await createBucket(server, uniqueBucket('undo-hmac'), { versioned: true });
    await seed(bucket, ['pan/meera.pdf']);
    const engine = engineFor(s3Config(server, bucket, PREFIX, { versions: 'keep' }), { ledgerKeyHmacSecret: 'sixteen-bytes-or-more-secret' });
    const s = await engine.run();
    expect(s.deleted_count).toBe(1);
    const [t] = await ledger(`outcome = 'trashed'`);
    expect(t!.trash_location).toMatch(new RegExp(`^\\.lethe/trash/${s.run_id}/[0-9a-f]{64}$`));
    expect(await restoreFile(engine, { fileKey: 'pan/meera.pdf', by: 'dpo' })).toMatchObject({ restored_job_ids: ['pan/meera.pdf'] });
    expect(await etag(bucket, `${PREFIX}pan/meera.pdf`)).not.toBeNull();
  });
});
