import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ObjectInfo, S3StorageConfig } from '@lethe/engine';
import { openS3Storage, type S3Storage, HeadObjectCommand, ListObjectsV2Command } from '@lethe/engine/testing';
import { createBucket, putObjects, s3Config, startS3Server, uniqueBucket, type S3TestServer } from '../support/s3-server.js';
import { describeS3 } from './describe-s3.js';
import { isDeleteObjects, startS3Proxy, type S3Proxy } from './s3-proxy.js';

let server: S3TestServer;
let proxy: S3Proxy;
// 2500 keys, of which 1042 objects exist, spread over all three DeleteObjects requests; put in
// beforeAll (moto stores at most ~200 objects/s). The other keys are already absent.
const keys = Array.from({ length: 2500 }, (_, i) => `doc-${String(i).padStart(5, '0')}.pdf`);
const present = keys.filter((_, i) => i % 12 < 5);
const bucket = uniqueBucket('adapter');
const open: S3Storage[] = [];

/** An adapter that talks to the server through the recording proxy. */
async function viaProxy(prefix: string, extra: Partial<S3StorageConfig> = {}): Promise<S3Storage> {
  const s = await openS3Storage(s3Config(server, bucket, prefix, { endpoint: proxy.endpoint, ...extra }));
  open.push(s);
  return s;
}

const exists = (key: string) =>
  server.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
    () => true,
    () => false,
  );
async function collect(list: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const o of list) out.push(o);
  return out;
}
const since = (mark: number) => proxy.requests.slice(mark);

describeS3('S3 adapter on a real S3 server', () => {
  beforeAll(async () => {
    server = await startS3Server();
    proxy = await startS3Proxy(server.endpoint);
    await createBucket(server, bucket);
    await putObjects(
      server,
      bucket,
      present.map((k) => `big/${k}`),
    );
  });
  afterAll(async () => {
    for (const s of open) await s.close();
    await proxy?.close();
    await server?.stop();
  });

  it('lists past 1000 objects with pagination, then deletes 2500 keys in DeleteObjects of at most 1000', async () => {
    const s = await viaProxy('big/');
    let mark = proxy.requests.length;
    const listed = await collect(s.list());
    expect(listed.map((o) => o.key).sort()).toEqual(present);
    expect(since(mark).filter((r) => r.method === 'GET' && r.path.includes('list-type=2'))).toHaveLength(2);

    mark = proxy.requests.length;
    const out = await s.deleteMany(keys);
    expect(out).toHaveLength(2500);
    expect(out.every((o, i) => o.key === keys[i] && o.outcome === 'erased')).toBe(true);
    const deletes = since(mark).filter((r) => isDeleteObjects(r.method, r.path));
    expect(deletes.map((r) => r.objects).sort((a, b) => b - a)).toEqual([1000, 1000, 500]);
    const left = await server.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'big/' }));
    expect(left.KeyCount ?? 0).toBe(0);
  });

  it('sends Content-MD5 of the exact body on DeleteObjects, and no CRC32 that MinIO would refuse', async () => {
    await putObjects(server, bucket, ['md5/a', 'md5/b']);
    let mark = proxy.requests.length;
    expect((await (await viaProxy('md5/')).deleteMany(['a', 'b'])).map((o) => o.outcome)).toEqual(['erased', 'erased']);
    const [req] = since(mark).filter((r) => isDeleteObjects(r.method, r.path));
    expect(req?.headers['content-md5']).toBe(req?.bodyMd5);
    expect(Object.keys(req?.headers ?? {}).filter((h) => h.startsWith('x-amz-checksum-') || h === 'x-amz-sdk-checksum-algorithm')).toEqual([]);
    expect(String(req?.headers.authorization)).toContain('content-md5');
    // Without the middleware the SDK sends CRC32 only: the case that MinIO refuses.
    mark = proxy.requests.length;
    await (await viaProxy('md5/', { contentMd5: false })).deleteMany(['a']);
    const [plain] = since(mark).filter((r) => isDeleteObjects(r.method, r.path));
    expect(plain?.headers['content-md5']).toBeUndefined();
    expect(plain?.headers['x-amz-checksum-crc32']).toBeDefined();
  });

  it('reuses keep-alive connections from a bounded pool', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `ka/${i}`);
    await putObjects(server, bucket, keys);
    const s = await viaProxy('ka/', { maxSockets: 2 });
    const mark = proxy.requests.length;
    await Promise.all(keys.map((k) => s.stat(k.slice(3))));
    const used = since(mark);
    expect(used).toHaveLength(40);
    expect(new Set(used.map((r) => r.socketId)).size).toBeLessThanOrEqual(2);
  });

  it('applies the prefix to every key and refuses keys that would leave it', async () => {
    await putObjects(server, bucket, ['tenant/a/x.pdf', 'tenant/x.pdf', 'x.pdf', 'tenant/a/y.pdf']);
    const s = await viaProxy('tenant/a/');
    const mark = proxy.requests.length;
    const out = await s.deleteMany(['x.pdf', '../x.pdf', '../../x.pdf', '/x.pdf']);
    expect(out.map((o) => o.outcome)).toEqual(['erased', 'refused', 'refused', 'refused']);
    expect(out[1]?.code).toBe('LETHE_E_KEY_OUTSIDE_ROOT');
    const [req] = since(mark).filter((r) => isDeleteObjects(r.method, r.path));
    expect(req?.objects).toBe(1);
    expect(await exists('tenant/a/x.pdf')).toBe(false);
    expect(await exists('tenant/x.pdf')).toBe(true);
    expect(await exists('x.pdf')).toBe(true);
    expect((await collect(s.list())).map((o) => o.key)).toEqual(['y.pdf']);
    expect(await s.stat('y.pdf')).toMatchObject({ key: 'y.pdf', size: 'tenant/a/y.pdf'.length });
    await expect(s.stat('../x.pdf')).rejects.toMatchObject({ code: 'LETHE_E_KEY_OUTSIDE_ROOT' });
    await expect(collect(s.list('../'))).rejects.toMatchObject({ code: 'LETHE_E_KEY_OUTSIDE_ROOT' });
  });

  it('fails every key of a missing bucket with a message naming bucket and endpoint, deleting nothing', async () => {
    const s = await openS3Storage(s3Config(server, 'no-such-bucket-here', 'p/', { endpoint: proxy.endpoint }));
    open.push(s);
    const mark = proxy.requests.length;
    const out = await s.deleteMany(['a', 'b']);
    expect(out.map((o) => [o.outcome, o.code, o.retryable])).toEqual([
      ['failed', 'NoSuchBucket', false],
      ['failed', 'NoSuchBucket', false],
    ]);
    expect(out[0]?.message).toContain('s3://no-such-bucket-here/p/');
    expect(out[0]?.message).toContain(`endpoint ${proxy.endpoint}`);
    expect(out[0]?.message).toContain('does not exist');
    expect(since(mark).filter((r) => isDeleteObjects(r.method, r.path))).toEqual([]);
    await expect(s.stat('a')).rejects.toThrow(/no-such-bucket-here/);
  });

  it('fails keys as retryable, naming the endpoint, when the server cannot be reached', async () => {
    const s = await openS3Storage(s3Config(server, bucket, 'p/', { endpoint: 'http://127.0.0.1:9', maxAttempts: 2, retryBaseMs: 1 }));
    open.push(s);
    const [o] = await s.deleteMany(['a']);
    expect(o).toMatchObject({ outcome: 'failed', code: 'ECONNREFUSED', retryable: true });
    expect(o?.message).toMatch(/endpoint http:\/\/127\.0\.0\.1:9\).*2 attempts/);
  });

  it('deletes keys that XML cannot carry one request each, without failing their batch', async () => {
    const odd = ['odd\u0001.pdf', 'carriage\rreturn.pdf'];
    await putObjects(
      server,
      bucket,
      [...odd, 'plain.pdf'].map((k) => `ctl/${k}`),
    );
    const mark = proxy.requests.length;
    const out = await (await viaProxy('ctl/')).deleteMany([...odd, 'plain.pdf']);
    expect(out.map((o) => o.outcome)).toEqual(['erased', 'erased', 'erased']);
    for (const k of [...odd, 'plain.pdf']) expect(await exists(`ctl/${k}`)).toBe(false);
    const sent = since(mark);
    expect(sent.filter((r) => isDeleteObjects(r.method, r.path)).map((r) => r.objects)).toEqual([1]);
    expect(sent.filter((r) => r.method === 'DELETE')).toHaveLength(2);
  });
});
