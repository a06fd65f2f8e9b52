import { afterAll, beforeAll, expect, it } from 'vitest';
import type { S3StorageConfig } from '@lethe/engine';
import { openS3Storage, type S3Storage, ListObjectVersionsCommand, PutObjectCommand, PutObjectLegalHoldCommand } from '@lethe/engine/testing';
import { createBucket, s3Config, startS3Server, uniqueBucket, type S3TestServer } from '../support/s3-server.js';
import { describeS3 } from './describe-s3.js';
import { isDeleteObjects, isGetVersioning, startS3Proxy, type S3Proxy } from './s3-proxy.js';

let server: S3TestServer;
let proxy: S3Proxy;
const versioned = uniqueBucket('versioned');
const locked = uniqueBucket('locked');
const open: S3Storage[] = [];

async function adapter(bucket: string, prefix: string, extra: Partial<S3StorageConfig> = {}): Promise<S3Storage> {
  const s = await openS3Storage(s3Config(server, bucket, prefix, { endpoint: proxy.endpoint, ...extra }));
  open.push(s);
  return s;
}

async function put(bucket: string, key: string, body = key): Promise<string> {
  const out = await server.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  return out.VersionId ?? '';
}

/** Every version and delete marker of exactly `key`, as `v` / `marker`. */
async function versionsOf(bucket: string, key: string): Promise<string[]> {
  const out = await server.client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
  return [...(out.Versions ?? []).filter((v) => v.Key === key).map(() => 'v'), ...(out.DeleteMarkers ?? []).filter((m) => m.Key === key).map(() => 'marker')];
}

describeS3('S3 versioned buckets and Object Lock (moto or $LETHE_TEST_S3_ENDPOINT)', () => {
  beforeAll(async () => {
    server = await startS3Server();
    proxy = await startS3Proxy(server.endpoint);
    await createBucket(server, versioned, { versioned: true });
    await createBucket(server, locked, { objectLock: true });
  });
  afterAll(async () => {
    for (const s of open) await s.close();
    await proxy?.close();
    await server?.stop();
  });

  it('erase-all (the default) deletes every version and marker of the exact key, and only that key', async () => {
    for (const body of ['v1', 'v2', 'v3']) await put(versioned, 'ea/doc.pdf', body);
    await put(versioned, 'ea/doc.pdf2');
    await put(versioned, 'ea/doc.pdf/child');
    await put(versioned, 'ea/hidden.pdf');
    const s = await adapter(versioned, 'ea/');
    await s.deleteMany(['hidden.pdf']); // earlier erase: nothing left at all
    await put(versioned, 'ea/marked.pdf');
    await (await adapter(versioned, 'ea/', { versions: 'keep' })).deleteMany(['marked.pdf']); // data hidden behind a marker

    const out = await s.deleteMany(['doc.pdf', 'never-existed.pdf', 'hidden.pdf', 'marked.pdf']);
    expect(out.map((o) => o.outcome)).toEqual(['erased', 'absent', 'absent', 'erased']);
    expect(await versionsOf(versioned, 'ea/doc.pdf')).toEqual([]);
    expect(await versionsOf(versioned, 'ea/marked.pdf')).toEqual([]);
    expect(await versionsOf(versioned, 'ea/doc.pdf2')).toEqual(['v']);
    expect(await versionsOf(versioned, 'ea/doc.pdf/child')).toEqual(['v']);
    expect(await s.describeState()).toMatchObject({
      versioning: 'Enabled',
      versions_mode: 'erase-all',
      deletes: 'every version by VersionId',
      absent_observable: true,
    });
  });

  it('keep mode only adds a delete marker: the data stays for the undo window', async () => {
    await put(versioned, 'keep/doc.pdf', 'one');
    await put(versioned, 'keep/doc.pdf', 'two');
    const s = await adapter(versioned, 'keep/', { versions: 'keep' });
    expect(await s.deleteMany(['doc.pdf'])).toEqual([{ key: 'doc.pdf', outcome: 'erased' }]);
    expect(await s.stat('doc.pdf')).toBeNull();
    expect((await versionsOf(versioned, 'keep/doc.pdf')).sort()).toEqual(['marker', 'v', 'v']);
    expect(await s.describeState()).toMatchObject({ versions_mode: 'keep', deletes: 'delete marker (noncurrent versions kept)', absent_observable: false });
  });

  it('a legal hold fails its key with AccessDenied; the rest of the batch is erased', async () => {
    await put(locked, 'lh/held.pdf', 'old');
    const heldVersion = await put(locked, 'lh/held.pdf', 'new');
    await put(locked, 'lh/free.pdf');
    await put(locked, 'lh/other.pdf');
    await server.client.send(new PutObjectLegalHoldCommand({ Bucket: locked, Key: 'lh/held.pdf', VersionId: heldVersion, LegalHold: { Status: 'ON' } }));
    const s = await adapter(locked, 'lh/');
    const out = await s.deleteMany(['free.pdf', 'held.pdf', 'other.pdf']);
    expect(out.map((o) => o.outcome)).toEqual(['erased', 'failed', 'erased']);
    expect(out[1]).toMatchObject({ code: 'AccessDenied', retryable: false });
    expect(out[1]?.message).toMatch(/AccessDenied.*legal hold.*at least one of the key's 2 versions is kept/);
    expect(await versionsOf(locked, 'lh/free.pdf')).toEqual([]);
    expect(await versionsOf(locked, 'lh/held.pdf')).toContain('v');

    // Once the hold is lifted, the next run erases it.
    await server.client.send(new PutObjectLegalHoldCommand({ Bucket: locked, Key: 'lh/held.pdf', VersionId: heldVersion, LegalHold: { Status: 'OFF' } }));
    expect((await s.deleteMany(['held.pdf']))[0]?.outcome).toBe('erased');
    expect(await versionsOf(locked, 'lh/held.pdf')).toEqual([]);
  });

  it('fails closed when the versioning state cannot be read: every key failed, nothing deleted', async () => {
    await put(versioned, 'fc/a.pdf');
    const s = await adapter(versioned, 'fc/');
    proxy.inject({ match: isGetVersioning, status: 403, code: 'AccessDenied', message: 'Access Denied', times: 1 });
    const mark = proxy.requests.length;
    const out = await s.deleteMany(['a.pdf', 'b.pdf']);
    expect(out.map((o) => [o.outcome, o.code])).toEqual([
      ['failed', 'AccessDenied'],
      ['failed', 'AccessDenied'],
    ]);
    expect(out[0]?.message).toContain(`s3://${versioned}/fc/ (endpoint ${proxy.endpoint}): GetBucketVersioning failed`);
    expect(out[0]?.message).toContain('nothing was deleted');
    expect(proxy.requests.slice(mark).filter((r) => isDeleteObjects(r.method, r.path) || r.method === 'DELETE')).toEqual([]);
    expect(await versionsOf(versioned, 'fc/a.pdf')).toEqual(['v']);
    expect(await s.describeState()).toMatchObject({ versioning: 'Enabled' }); // not cached: asked again
    expect((await s.deleteMany(['a.pdf']))[0]?.outcome).toBe('erased');
  });
});
