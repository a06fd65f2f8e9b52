import { afterAll, beforeAll, expect, it } from 'vitest';
import { openS3Storage, type S3Storage, HeadObjectCommand } from '@lethe/engine/testing';
import { createBucket, putObjects, s3Config, startS3Server, uniqueBucket, type S3TestServer } from '../support/s3-server.js';
import { describeS3 } from './describe-s3.js';
import { isDeleteObjects, startS3Proxy, type S3Proxy } from './s3-proxy.js';

let server: S3TestServer;
let proxy: S3Proxy;
const bucket = uniqueBucket('throttle');
const open: S3Storage[] = [];

/** Small backoff so the test spends milliseconds, not seconds, in retries (the shape is the same). */
async function adapter(prefix: string, maxAttempts = 5): Promise<S3Storage> {
  const s = await openS3Storage(s3Config(server, bucket, prefix, { endpoint: proxy.endpoint, retryBaseMs: 5, maxAttempts }));
  open.push(s);
  return s;
}
const exists = (key: string) =>
  server.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
    () => true,
    () => false,
  );
const deletesSince = (mark: number) => proxy.requests.slice(mark).filter((r) => isDeleteObjects(r.method, r.path));

describeS3('S3 throttling and transient errors (faults injected by a loopback proxy)', () => {
  beforeAll(async () => {
    server = await startS3Server();
    proxy = await startS3Proxy(server.endpoint);
    await createBucket(server, bucket);
  });
  afterAll(async () => {
    for (const s of open) await s.close();
    await proxy?.close();
    await server?.stop();
  });

  it('retries 503 SlowDown with backoff, slows its send rate, and then deletes everything', async () => {
    const keys = Array.from({ length: 5 }, (_, i) => `k${i}`);
    await putObjects(
      server,
      bucket,
      keys.map((k) => `slow/${k}`),
    );
    const s = await adapter('slow/');
    await s.describeState(); // versioning read before the faults, so only deletes meet them
    proxy.inject({ match: isDeleteObjects, status: 503, code: 'SlowDown', message: 'Please reduce your request rate.', times: 3 });
    const mark = proxy.requests.length;
    const out = await s.deleteMany(keys);
    expect(out.every((o) => o.outcome === 'erased')).toBe(true);
    const sent = deletesSince(mark);
    expect(sent.map((r) => r.injected)).toEqual([true, true, true, false]);
    for (const k of keys) expect(await exists(`slow/${k}`)).toBe(false);
    const state = await s.describeState();
    expect(state.requests).toMatchObject({ throttles: 3, retries: 3 });
    // Each resend went out after the previous cut and was throttled again, so each cut the pace;
    // the pace is now set (keys/s), and the success that ended it began the climb back.
    const rate = state.requests as { cuts: number; limitPerSecond: number | null };
    expect(rate.cuts).toBe(3);
    expect(rate.limitPerSecond).toBeGreaterThan(0);
  });

  it('retries 429 and 500 answers too', async () => {
    await putObjects(server, bucket, ['t/a', 't/b']);
    const s = await adapter('t/');
    await s.describeState();
    proxy.inject({ match: isDeleteObjects, status: 429, code: 'TooManyRequests', message: 'slow down', times: 1 });
    proxy.inject({ match: isDeleteObjects, status: 500, code: 'InternalError', message: 'We encountered an internal error.', times: 1 });
    const mark = proxy.requests.length;
    expect((await s.deleteMany(['a', 'b'])).map((o) => o.outcome)).toEqual(['erased', 'erased']);
    expect(deletesSince(mark).map((r) => r.injected)).toEqual([true, true, false]);
    expect(await exists('t/a')).toBe(false);
  });

  it('resends only the keys a 200 response reported as failed with a retryable code', async () => {
    await putObjects(server, bucket, ['pk/a', 'pk/b', 'pk/c']);
    const s = await adapter('pk/');
    await s.describeState();
    // A DeleteResult naming every key with InternalError: nothing was deleted on this attempt.
    proxy.inject({
      match: isDeleteObjects,
      status: 200,
      code: '',
      message: '',
      times: 1,
      body: (req) =>
        `<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${[...req.matchAll(/<Key>([^<]*)<\/Key>/g)]
          .map((m) => `<Error><Key>${m[1]}</Key><Code>InternalError</Code><Message>try again</Message></Error>`)
          .join('')}</DeleteResult>`,
    });
    const mark = proxy.requests.length;
    expect((await s.deleteMany(['a', 'b', 'c'])).map((o) => o.outcome)).toEqual(['erased', 'erased', 'erased']);
    expect(deletesSince(mark).map((r) => [r.injected, r.objects])).toEqual([
      [true, 3],
      [false, 3],
    ]);
    for (const k of ['a', 'b', 'c']) expect(await exists(`pk/${k}`)).toBe(false);
  });

  it('gives up after maxAttempts: keys fail as retryable and stay for the next run', async () => {
    await putObjects(server, bucket, ['stuck/a']);
    const s = await adapter('stuck/', 3);
    await s.describeState();
    proxy.inject({ match: isDeleteObjects, status: 503, code: 'SlowDown', message: 'Please reduce your request rate.', times: 3 });
    const [o] = await s.deleteMany(['a']);
    expect(o).toMatchObject({ key: 'a', outcome: 'failed', code: 'SlowDown', retryable: true });
    expect(o?.message).toContain('after 3 attempts');
    expect(o?.message).toContain(`s3://${bucket}/stuck/`);
    expect(await exists('stuck/a')).toBe(true);
  });
});
