import { afterAll, beforeAll, expect, it } from 'vitest';
import { HeadObjectCommand, PutObjectCommand } from '@lethe/engine/testing';
import { ago, createCliFixture, type CliFixture } from '../cli/support/fixture.js';
import { createBucket, startS3Server, uniqueBucket, type S3TestServer } from '../support/s3-server.js';
import { describeS3 } from '../storage/describe-s3.js';

/**
 * Runbook EMERGENCY-002 on S3: `lethe restore --from s3://backup/...` without ?endpoint= and
 * &region= takes them from LETHE_STORAGE (the same S3 service), and says so.
 */
let server: S3TestServer;
let f: CliFixture;
let env: Record<string, string>;
const store = uniqueBucket('restore-store');
const backups = uniqueBucket('restore-backup');

describeS3('lethe restore --from s3:// and the storage settings', () => {
  beforeAll(async () => {
    [server, f] = await Promise.all([startS3Server(), createCliFixture('restore_s3_settings')]);
    await Promise.all([createBucket(server, store), createBucket(server, backups)]);
    env = {
      LETHE_STORAGE: `s3://${store}/docs/?endpoint=${encodeURIComponent(server.endpoint)}&region=${server.region}&forcePathStyle=true`,
      AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
      LETHE_THREADS: '1',
    };
    await f.insert([['s3r-1', 'u/r-1.pdf', 'General', ago('40 days')]]);
    await server.client.send(new PutObjectCommand({ Bucket: store, Key: 'docs/u/r-1.pdf', Body: 'original' }));
    const run = await f.run(['run', '--json'], env);
    expect(run.json(), run.stderr).toMatchObject({ status: 'completed', deleted_count: 1 });
    await server.client.send(new PutObjectCommand({ Bucket: backups, Key: '2025-11-30/u/r-1.pdf', Body: 'original' }));
  });
  afterAll(async () => {
    await server?.stop();
    await f?.close();
  });

  it('takes the endpoint, region and path style from LETHE_STORAGE when the --from URL gives none', async () => {
    const r = await f.run(['restore', 'u/r-1.pdf', '--from', `s3://${backups}/2025-11-30/`, '--by', 'oncall'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`RESTORED u/r-1.pdf from the backup s3://${backups}/2025-11-30/`);
    expect(r.stdout).toContain("the backup's endpoint, region, forcePathStyle taken from the storage's settings (LETHE_STORAGE)");
    const back = await server.client.send(new HeadObjectCommand({ Bucket: store, Key: 'docs/u/r-1.pdf' }));
    expect(back.ContentLength).toBe('original'.length);
  });
});
