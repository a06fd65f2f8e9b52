import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createEngine, type Engine, type StorageConfig } from '@lethe/engine';
import { restoreFromBackup, runDoctor } from '@lethe/engine/operations';
import { openS3Storage, ListObjectVersionsCommand, PutObjectCommand } from '@lethe/engine/testing';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { createBucket, s3Config, startS3Server, uniqueBucket, type S3TestServer } from '../support/s3-server.js';
import { describeS3 } from '../storage/describe-s3.js';

/**
 * On-call operations on a real S3 server (moto): `lethe doctor`'s probe and versioning check on a versioned
 * bucket (the probe leaves no version and no delete marker), a missing bucket, and restores from a
 * backup both from an s3:// location and into an S3 store.
 */
let server: S3TestServer;
let db: TestDatabase;
let local: string;
const engines: Engine[] = [];
const store = uniqueBucket('ops-store');
const backups = uniqueBucket('ops-backup');

describeS3('on-call operations on S3', () => {
  beforeAll(async () => {
    [server, db, local] = await Promise.all([startS3Server(), createTestDatabase('ops_s3'), mkdtemp(join(tmpdir(), 'lethe-ops-s3-'))]);
    await Promise.all([createBucket(server, store, { versioned: true }), createBucket(server, backups)]);
    await createJobsTable(db.pool);
    const e = createEngine({ databaseUrl: db.url });
    await e.migrate();
    await e.close();
    // The SDK's standard credential chain, for adapters built from a URL (the backup location).
    process.env.AWS_ACCESS_KEY_ID = server.credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = server.credentials.secretAccessKey;
  });
  afterAll(async () => {
    for (const e of engines) await e.close();
    await server?.stop();
    await db?.drop();
    await rm(local, { recursive: true, force: true });
  });

  const engineOn = (storage: string | StorageConfig): Engine => {
    const e = createEngine({ databaseUrl: db.url, storage, threads: 1 });
    engines.push(e);
    return e;
  };
  const body = async (bucket: string, key: string): Promise<string> => {
    const reader = await openS3Storage(s3Config(server, bucket, ''));
    try {
      const o = await reader.readObject(key);
      let text = '';
      for await (const chunk of o!.body) text += String(chunk);
      return text;
    } finally {
      await reader.close();
    }
  };

  it('doctor: probe written, read and deleted by version (nothing left), versioning Enabled; a missing bucket fails', async () => {
    const report = await runDoctor(engineOn(s3Config(server, store, 'docs/')));
    expect(report.checks.filter((c) => c.name.startsWith('storage.')).map((c) => [c.name, c.status])).toEqual([
      ['storage.reachable', 'ok'],
      ['storage.probe', 'ok'],
      ['storage.versioning', 'ok'],
    ]);
    expect(report.checks.find((c) => c.name === 'storage.versioning')!.message).toMatch(/^versioning Enabled: deletes are every version by VersionId/);
    const left = await server.client.send(new ListObjectVersionsCommand({ Bucket: store, Prefix: 'docs/.lethe/doctor/' }));
    expect([...(left.Versions ?? []), ...(left.DeleteMarkers ?? [])]).toEqual([]);
    const missing = await runDoctor(engineOn(s3Config(server, uniqueBucket('nope'), '')));
    expect(missing.ok).toBe(false);
    expect(missing.checks.find((c) => c.name === 'storage.reachable')).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(/the bucket does not exist at this endpoint/),
    });
  });

  it('restores from an s3:// backup into files, and from a directory backup into an S3 store', async () => {
    const insert = (id: string, key: string) =>
      db.pool.query(`INSERT INTO jobs (id, file_key, purpose_code, created_at) VALUES ($1, $2, 'General', (now() AT TIME ZONE 'UTC') - interval '40 days')`, [
        id,
        key,
      ]);
    await insert('f-1', 'u/f-1.pdf');
    await mkdir(join(local, 'root', 'u'), { recursive: true });
    await writeFile(join(local, 'root', 'u/f-1.pdf'), 'file one');
    const files = engineOn(`file://${join(local, 'root')}`);
    const first = await files.run();
    expect(first, JSON.stringify(first.error)).toMatchObject({ status: 'completed', deleted_count: 1 });
    await insert('s-1', 'u/s-1.pdf');
    await server.client.send(new PutObjectCommand({ Bucket: store, Key: 'docs/u/s-1.pdf', Body: 's3 one' }));
    const s3 = engineOn(s3Config(server, store, 'docs/'));
    expect(await s3.run()).toMatchObject({ status: 'completed', deleted_count: 1 });
    await server.client.send(new PutObjectCommand({ Bucket: backups, Key: '2025-11-30/u/f-1.pdf', Body: 'file one' }));
    const fromS3 = await restoreFromBackup(files, {
      fileKey: 'u/f-1.pdf',
      by: 'oncall',
      from: `s3://${backups}/2025-11-30/?endpoint=${encodeURIComponent(server.endpoint)}&forcePathStyle=true&region=${server.region}`,
    });
    expect(fromS3).toMatchObject({ restored_job_ids: ['f-1'], bytes: 8 });
    expect(await readFile(join(local, 'root', 'u/f-1.pdf'), 'utf8')).toBe('file one');

    const dir = join(local, 'backup');
    await mkdir(dirname(join(dir, 'u/s-1.pdf')), { recursive: true });
    await writeFile(join(dir, 'u/s-1.pdf'), 's3 one, from the tape');
    const intoS3 = await restoreFromBackup(s3, { fileKey: 'u/s-1.pdf', by: 'oncall', from: dir });
    expect(intoS3).toMatchObject({ restored_job_ids: ['s-1'], bytes: 's3 one, from the tape'.length });
    expect(await body(store, 'docs/u/s-1.pdf')).toBe('s3 one, from the tape');
    await expect(restoreFromBackup(s3, { fileKey: 'u/s-1.pdf', by: 'oncall', from: dir })).rejects.toThrow(/a file is already at this key/);
  });
});
