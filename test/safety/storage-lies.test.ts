import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEngine, ErrorCodes, readControl, resume, type Engine } from '@lethe/engine';
import { ListObjectsV2Command } from '@lethe/engine/testing';
import { createBucket, putObjects, s3Config, startS3Server, uniqueBucket, type S3TestServer } from '../support/s3-server.js';
import { describeS3 } from '../storage/describe-s3.js';
import { createSafetyFixture, type SafetyFixture } from './fixture.js';
import { isLetheOwn } from '../support/files.js';

/**
 * Storage that lies (docs/safety.md#storage-that-lies): the database says files exist, storage
 * holds none of them. A run must stop before deleting, keep the rows, pause with the reason and
 * end failed (the CLI exits 1); `--allow-missing` is the operator's way through.
 */
let f: SafetyFixture;

beforeAll(async () => {
  f = await createSafetyFixture('lies');
});
afterAll(async () => {
  await f.close();
});
beforeEach(async () => {
  await f.reset();
});
afterEach(async () => {
  await f.closeEngines();
});

async function rowsOnly(n: number, prefix: string): Promise<void> {
  await f.db.pool.query(
    `INSERT INTO jobs (id, file_key, purpose_code, created_at)
     SELECT $2 || i, $2 || '/' || i || '.pdf', 'General', (now() AT TIME ZONE 'UTC') - interval '40 days' FROM generate_series(1, $1::int) i`,
    [n, prefix],
  );
}
const jobs = async (): Promise<number> => (await f.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs`)).rows[0]!.n;

describe('filesystem', () => {
  it('an empty mount point (200 rows, no files): the run stops before deleting, keeps every row, pauses with the reason', async () => {
    await rowsOnly(200, 'm');
    const s = await f.engine().run();
    expect(s).toMatchObject({ status: 'failed', deleted_count: 0, error: { code: ErrorCodes.STORAGE_MISMATCH } });
    expect(s.error!.message).toMatch(/storage does not hold what the database says: 16 of 16 sampled files are missing/);
    expect(await jobs()).toBe(200);
    expect(await f.ledger()).toEqual([]);
    const control = await readControl(f.db.pool);
    expect(control).toMatchObject({ paused: true, pausedBy: 'lethe:storage-check' });
    expect(control.reason).toMatch(/LETHE_E_STORAGE_MISMATCH/);
  });

  it('a tiny store that is empty (2 rows, nothing under the root) stops too', async () => {
    await rowsOnly(2, 't');
    await mkdir(join(f.files.root, '.lethe'), { recursive: true }); // Lethe's own folder is not "files"
    const s = await f.engine().run();
    expect(s).toMatchObject({ status: 'failed', error: { code: ErrorCodes.STORAGE_MISMATCH } });
    expect(await jobs()).toBe(2);
  });

  it('a volume that goes away mid-run: a batch found mostly absent keeps those rows and stops the run', async () => {
    await f.seed(Array.from({ length: 10 }, (_, i) => ({ id: `p${i}`, key: `a/${i}.pdf` })));
    await rowsOnly(40, 'z'); // created after the first purpose's rows: same purpose, later keys
    const s = await f.engine({ batchSize: 10, maxBatchesInFlight: 1 }).run();
    expect(s).toMatchObject({ status: 'failed', erased_count: 10, absent_count: 0, error: { code: ErrorCodes.STORAGE_MISMATCH } });
    expect(await jobs()).toBe(40);
  });

  it('a few orphan rows among present files are recorded absent, as before', async () => {
    await f.seed(Array.from({ length: 20 }, (_, i) => ({ id: `p${i}`, key: `o/${i}.pdf` })));
    await f.db.pool.query(`UPDATE jobs SET file_key = 'o/missing-' || id || '.pdf' WHERE id IN ('p3', 'p7')`);
    const s = await f.engine().run();
    expect(s).toMatchObject({ status: 'completed', erased_count: 18, absent_count: 2 });
  });

  it('--allow-missing (after resume) records the missing files as absent', async () => {
    await rowsOnly(20, 'am');
    expect(await f.engine().run()).toMatchObject({ status: 'failed' });
    await resume(f.db.pool, { by: 'oncall', reason: 'checked the mount: the files were removed by hand' });
    const s = await f.engine().run({ allowMissing: true });
    expect(s).toMatchObject({ status: 'completed', absent_count: 20 });
    expect(await jobs()).toBe(0);
  });

  it('after a crash between storage and the ledger, the rerun expects those files absent (their intent is left) and converges', async () => {
    await f.seed(Array.from({ length: 30 }, (_, i) => ({ id: `c${i}`, key: `c/${i}.pdf` })));
    // What a batch that died after its storage call leaves: files gone, rows kept, an intent recorded by a dead run.
    const dead = '00000000-0000-4000-8000-000000000001';
    await f.db.pool.query(`INSERT INTO lethe_runs (id, trigger, status) VALUES ($1, 'manual', 'interrupted')`, [dead]);
    const ids = Array.from({ length: 30 }, (_, i) => `c${i}`);
    await f.db.pool.query(`INSERT INTO lethe_inflight (run_id, job_ids) VALUES ($1, $2)`, [dead, ids]);
    for (let i = 0; i < 30; i++) await rm(join(f.files.root, `c/${i}.pdf`));
    const s = await f.engine().run();
    expect(s).toMatchObject({ status: 'completed', absent_count: 30 });
    expect(await jobs()).toBe(0);
    // Settled: the intent is forgotten once none of its rows is left.
    expect((await f.db.pool.query(`SELECT count(*)::int AS n FROM lethe_inflight`)).rows[0].n).toBe(0);
  });
});

describeS3('S3: a mistyped prefix on an unversioned bucket', () => {
  let server: S3TestServer;
  const engines: Engine[] = [];
  beforeAll(async () => {
    server = await startS3Server();
  });
  afterAll(async () => {
    await Promise.all(engines.map((e) => e.close()));
    await server.stop();
  });

  it('HEADs a sample before the first delete: nothing is deleted, rows kept, paused; the right prefix then works', async () => {
    const bucket = await createBucket(server, uniqueBucket('lies'));
    await putObjects(
      server,
      bucket,
      Array.from({ length: 100 }, (_, i) => `tenant-7/docs/${i}.pdf`),
    );
    await putObjects(server, bucket, ['tenant-8/docs/0.pdf']);
    await f.db.pool.query(
      `INSERT INTO jobs (id, file_key, purpose_code, created_at) SELECT 'd' || i, 'docs/' || i || '.pdf', 'General', (now() AT TIME ZONE 'UTC') - interval '40 days' FROM generate_series(0, 99) i`,
    );
    const wrong = createEngine({ databaseUrl: f.db.url, storage: s3Config(server, bucket, 'tenant-7x/'), threads: 1 });
    engines.push(wrong);
    const s = await wrong.run();
    expect(s).toMatchObject({ status: 'failed', deleted_count: 0, error: { code: ErrorCodes.STORAGE_MISMATCH } });
    expect(await jobs()).toBe(100);
    const listed = await server.client.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(listed.KeyCount).toBe(101);
    await resume(f.db.pool, { by: 'oncall', reason: 'prefix fixed' });
    const right = createEngine({ databaseUrl: f.db.url, storage: s3Config(server, bucket, 'tenant-7/'), threads: 1 });
    engines.push(right);
    expect(await right.run()).toMatchObject({ status: 'completed', deleted_count: 100 });
    const after = await server.client.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect((after.Contents ?? []).map((o) => o.Key).filter((k) => !isLetheOwn(k!))).toEqual(['tenant-8/docs/0.pdf']);
  });
});
