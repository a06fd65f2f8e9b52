import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { createEngine, createStorage, ErrorCodes } from '@lethe/engine';
import { FaultInjectingStorage, type FaultPlan, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@lethe/engine/testing';
import { expectConverged } from '../support/convergence.js';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import type { TempRoot } from '../support/files.js';
import { describeS3 } from '../storage/describe-s3.js';
import { createBucket, putObjects, s3Config, startS3Server, uniqueBucket, type S3TestServer } from '../support/s3-server.js';
import { faultSeed, insertRows } from './fixtures.js';
import { startS3FaultProxy, type S3FaultProxy, type WireFault } from './s3-fault-proxy.js';
import { isLetheOwn } from '../support/files.js';

/**
 * Fault proof 2, S3 (docs/safety.md#storage-that-lies): storage faults on a real S3 server (moto_server), two ways.
 * - On the wire: a loopback proxy answers 503 SlowDown or 500 InternalError, or resets the
 *   connection before or after forwarding, for every DeleteObjects request that names chosen keys;
 *   the SDK, the adapter's retries and its send-rate control all run for real.
 * - At the adapter boundary: FaultInjectingStorage around the real S3 adapter on a versioned
 *   bucket (timeouts, crashes, faults after the store acted, a seeded share of keys).
 * Then: keys that would leave the prefix are refused and nothing outside the prefix changes.
 * Skipped with a printed reason when no S3 server can be had, except under CI=true.
 */
const seed = faultSeed('s3-faults');
let server: S3TestServer;
let proxy: S3FaultProxy;
let db: TestDatabase;

/** The convergence helper's view of a bucket prefix (HEAD on the server itself, not through the proxy). */
function s3Root(bucket: string, prefix: string): TempRoot {
  return {
    root: `s3://${bucket}/${prefix}`,
    put: async (key, content = 'x') => void (await server.client.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + key, Body: content }))),
    exists: (key) =>
      server.client.send(new HeadObjectCommand({ Bucket: bucket, Key: prefix + key })).then(
        () => true,
        () => false,
      ),
    remove: async () => {},
  };
}

async function listAll(bucket: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await server.client.send(new ListObjectsV2Command({ Bucket: bucket, ...(token ? { ContinuationToken: token } : {}) }));
    for (const o of page.Contents ?? []) if (o.Key !== undefined && !isLetheOwn(o.Key)) out.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out.sort();
}

interface Fixture {
  readonly bucket: string;
  readonly prefix: string;
  readonly expiredKeys: string[];
  readonly expiredIds: string[];
  readonly liveKeys: string[];
}

async function fixture(label: string, versioned: boolean, expired: number, live: number, staggerMs = 0): Promise<Fixture> {
  const bucket = await createBucket(server, uniqueBucket(label), { versioned });
  const prefix = `${label}/`;
  const expiredKeys = Array.from({ length: expired }, (_, i) => `${label}-exp/${i}.pdf`);
  const liveKeys = Array.from({ length: live }, (_, i) => `${label}-live/${i}.pdf`);
  const expiredIds = await insertRows(db.pool, `${label}-e`, expiredKeys, 'General', '40 days', staggerMs);
  await insertRows(db.pool, `${label}-l`, liveKeys, 'General', '2 days');
  await putObjects(
    server,
    bucket,
    [...expiredKeys, ...liveKeys].map((k) => prefix + k),
  );
  return { bucket, prefix, expiredKeys, expiredIds, liveKeys };
}

describeS3('storage faults on S3 (fault proof 2)', () => {
  beforeAll(async () => {
    server = await startS3Server();
    proxy = await startS3FaultProxy(server.endpoint);
    db = await createTestDatabase('fault_s3');
    await createJobsTable(db.pool);
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
    await db?.drop();
  });
  // Each test runs the engine over the whole jobs table: start from none.
  beforeEach(async () => {
    await db.pool.query('TRUNCATE jobs');
  });

  it('503 SlowDown, 500 InternalError and connection resets on the wire: failures recorded by code, rows kept, the next run converges', async () => {
    // Rows are read in key order (staggered created_at), so batch n is keys 5n..5n+4. SlowDown goes
    // last: the adapter rightly slows its send rate after it, which would only make the test slow.
    const f = await fixture('wire', false, 60, 6, 1);
    const wire: [number, WireFault][] = [
      [7, { kind: 'status', status: 500, code: 'InternalError', message: 'We encountered an internal error. Please try again.' }],
      [22, { kind: 'reset-before' }],
      [37, { kind: 'reset-after' }],
      [57, { kind: 'status', status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' }],
    ];
    for (const [i, fault] of wire) proxy.faults.set(f.prefix + f.expiredKeys[i]!, fault);
    // The real adapter in this thread (the worker-pool path on S3 is test/storage/s3-run.test.ts's).
    const storage = await createStorage(s3Config(server, f.bucket, f.prefix, { endpoint: proxy.endpoint, maxAttempts: 2, retryBaseMs: 1 }));
    const engine = createEngine({ databaseUrl: db.url, storage, batchSize: 5, summaryFailures: 1000 });
    try {
      await engine.migrate();
      const s = await engine.run();
      // What the run must report: every key of every request the proxy failed, with that fault's code.
      const codeOf = (fault: WireFault): string => (fault.kind === 'status' ? fault.code : 'ECONNRESET');
      const expected = new Map<string, { code: string; after: boolean }>();
      for (const r of proxy.faulted)
        for (const k of r.keys) expected.set(k.slice(f.prefix.length), { code: codeOf(r.fault), after: r.fault.kind === 'reset-after' });
      const batchOf = (i: number): string[] => f.expiredKeys.slice(i - (i % 5), i - (i % 5) + 5);
      expect(new Set(expected.keys()), 'the faulted requests were exactly the four batches').toEqual(new Set(wire.flatMap(([i]) => batchOf(i))));
      expect(new Set([...expected.values()].map((e) => e.code))).toEqual(new Set(['SlowDown', 'InternalError', 'ECONNRESET']));

      expect(s.status, JSON.stringify(s.error)).toBe('completed');
      expect(s.failed_count).toBe(expected.size);
      expect(new Map(s.errors.map((e) => [e.file_key, e.code]))).toEqual(new Map([...expected].map(([k, e]) => [k, e.code])));
      for (const e of s.errors) expect(e.message, 'the message names bucket and endpoint').toContain(`s3://${f.bucket}/${f.prefix}`);
      const ledger = await db.pool.query<{ file_key: string; error_code: string }>(
        `SELECT file_key, error_code FROM lethe_ledger WHERE run_id = $1 AND outcome = 'failed'`,
        [s.run_id],
      );
      expect(new Map(ledger.rows.map((r) => [r.file_key, r.error_code]))).toEqual(new Map([...expected].map(([k, e]) => [k, e.code])));
      const kept = await db.pool.query<{ file_key: string }>(`SELECT file_key FROM jobs WHERE id = ANY($1)`, [f.expiredIds]);
      expect(new Set(kept.rows.map((r) => r.file_key)), 'exactly the failed keys keep their rows').toEqual(new Set(expected.keys()));
      const objects = s3Root(f.bucket, f.prefix);
      for (const [key, e] of expected) expect(await objects.exists(key), `${key} (${e.code}${e.after ? ', after the store acted' : ''})`).toBe(!e.after);

      proxy.faults.clear();
      const again = await engine.run();
      // Unversioned: a missing key is reported deleted by S3, so the reset-after keys count as erased again.
      expect(again).toMatchObject({ status: 'completed', failed_count: 0, deleted_count: expected.size });
      await expectConverged(db.pool, objects, f.expiredKeys, f.liveKeys);
    } finally {
      proxy.faults.clear();
      await engine.close();
      await storage.close();
    }
  });

  it('FaultInjectingStorage around the S3 adapter (versioned bucket): timeouts, crashes, faults after the store acted; the rerun finds those absent', async () => {
    const f = await fixture('inject', true, 60, 6);
    const k = (i: number): string => f.expiredKeys[i]!;
    const plan: FaultPlan = {
      keys: {
        [k(1)]: { code: 'SlowDown' },
        [k(2)]: { code: 'InternalError' },
        [k(3)]: { code: 'ETIMEDOUT', delayMs: 20 },
        [k(4)]: { code: 'ECONNRESET', when: 'after' },
        [k(5)]: { code: 'AccessDenied', retryable: false, message: 'AccessDenied: Access Denied' },
      },
      share: { seed, fraction: 0.05, faults: [{ code: 'SlowDown' }, { code: 'ETIMEDOUT', delayMs: 5, when: 'after' }] },
      crashes: [{ call: 3, when: 'after' }],
    };
    const storage = new FaultInjectingStorage(await createStorage(s3Config(server, f.bucket, f.prefix)), plan);
    const engine = createEngine({ databaseUrl: db.url, storage, batchSize: 20, summaryFailures: 1000 });
    try {
      await engine.migrate();
      const s = await engine.run();
      const injected = new Map(storage.injected.map((x) => [x.key, x]));
      const codeOf = (key: string): string => (injected.get(key)!.crash ? ErrorCodes.STORAGE : injected.get(key)!.code);
      expect(s.status, `seed ${seed}: ${JSON.stringify(s.error)}`).toBe('completed');
      expect(s.failed_count, `seed ${seed}`).toBe(injected.size);
      expect(new Map(s.errors.map((e) => [e.file_key, e.code]))).toEqual(new Map([...injected.keys()].map((key) => [key, codeOf(key)])));
      const ledger = await db.pool.query<{ file_key: string; error_code: string }>(
        `SELECT file_key, error_code FROM lethe_ledger WHERE run_id = $1 AND outcome = 'failed'`,
        [s.run_id],
      );
      expect(new Map(ledger.rows.map((r) => [r.file_key, r.error_code]))).toEqual(new Map([...injected.keys()].map((key) => [key, codeOf(key)])));
      const kept = await db.pool.query<{ file_key: string }>(`SELECT file_key FROM jobs WHERE id = ANY($1)`, [f.expiredIds]);
      expect(new Set(kept.rows.map((r) => r.file_key))).toEqual(new Set(injected.keys()));
      const objects = s3Root(f.bucket, f.prefix);
      for (const [key, x] of injected) expect(await objects.exists(key), `${key} (${x.code}, ${x.when})`).toBe(x.when === 'before');

      storage.enabled = false;
      const again = await engine.run();
      const after = [...injected.values()].filter((x) => x.when === 'after').length;
      // Versioned, erase-all: absence is observable, so keys the store had already erased are found absent.
      expect(again, `seed ${seed}`).toMatchObject({ status: 'completed', failed_count: 0, absent_count: after, erased_count: injected.size - after });
      await expectConverged(db.pool, objects, f.expiredKeys, f.liveKeys);
    } finally {
      await engine.close();
      await storage.close();
    }
  });

  it('keys that would leave the prefix are refused with their codes; objects outside the prefix are untouched', async () => {
    const bucket = await createBucket(server, uniqueBucket('adversarial'));
    const outsideObjects = ['victim.pdf', 'other/victim.pdf', 'advx/victim.pdf', 'adv'];
    await putObjects(server, bucket, [...outsideObjects, 'adv/ok.pdf', 'adv/caf\u00e9.pdf', 'adv/cafe\u0301.pdf']);
    const rows: [string, string, string | null][] = [
      ['up', '../victim.pdf', ErrorCodes.KEY_OUTSIDE_ROOT],
      ['up-other', '../other/victim.pdf', ErrorCodes.KEY_OUTSIDE_ROOT],
      ['inner', 'x/../../other/victim.pdf', ErrorCodes.KEY_OUTSIDE_ROOT],
      ['absolute', '/other/victim.pdf', ErrorCodes.KEY_OUTSIDE_ROOT],
      ['sibling', '../advx/victim.pdf', ErrorCodes.KEY_OUTSIDE_ROOT],
      ['backslash', '..\\victim.pdf', ErrorCodes.KEY_OUTSIDE_ROOT],
      ['long', 'k'.repeat(1100), ErrorCodes.KEY_INVALID],
      ['ok', 'ok.pdf', null],
      ['nfc', 'caf\u00e9.pdf', null],
    ];
    for (const [id, key] of rows)
      await db.pool.query(`INSERT INTO jobs (id, file_key, purpose_code, created_at) VALUES ($1, $2, 'General', now() - interval '40 days')`, [id, key]);
    const storage = await createStorage(s3Config(server, bucket, 'adv/'));
    const engine = createEngine({ databaseUrl: db.url, storage, batchSize: 4 });
    try {
      await engine.migrate();
      const s = await engine.run();
      expect(s.refused.map((r) => [r.job_id, r.code]).sort()).toEqual(
        rows
          .filter(([, , code]) => code !== null)
          .map(([id, , code]) => [id, code])
          .sort(),
      );
      expect(s).toMatchObject({ status: 'completed', erased_count: 2, failed_count: 0 });
      // Only adv/ok.pdf and the NFC spelling went; the NFD spelling is another object.
      expect(await listAll(bucket)).toEqual([...outsideObjects, 'adv/cafe\u0301.pdf'].sort());
    } finally {
      await engine.close();
      await storage.close();
    }
  });
});
