import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, ErrorCodes, FileStorage, type KeyOutcome } from '@lethe/engine';
import { FakeClock, FaultInjectingStorage, MemoryStorage, type FaultPlan } from '@lethe/engine/testing';
import { expectConverged } from '../support/convergence.js';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';
import { expectConsistent, faultSeed, insertRows, putFiles } from './fixtures.js';

/**
 * Fault proof 2, filesystem (docs/safety.md#storage-that-lies): storage faults injected at the adapter boundary, around a
 * real FileStorage on real files, in a real run on real Postgres. EACCES, EIO, timeouts,
 * connection resets (before and after the store acted), a seeded share of keys, and whole
 * `deleteMany` calls that throw (a crashed worker), before and after the unlinks happened.
 *
 * What must hold: each failed key is counted, sampled with its code in `errors`, and has a ledger
 * row `failed` with that code; its job row is kept; its file is still there unless the fault
 * struck after the store acted; and the next run without faults converges.
 */
const seed = faultSeed('storage-faults');
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('fault_storage');
  await createJobsTable(db.pool);
});
afterAll(async () => {
  await db?.drop();
});

/** Fresh rows and files under a prefix of their own, so tests in this file do not meet. */
async function fixture(
  prefix: string,
  expired: number,
  live: number,
): Promise<{ files: TempRoot; expiredKeys: string[]; expiredIds: string[]; liveKeys: string[] }> {
  const files = await createTempRoot(`fault-${prefix}`);
  const expiredKeys = Array.from({ length: expired }, (_, i) => `${prefix}/exp/${i % 10}/${i}.pdf`);
  const liveKeys = Array.from({ length: live }, (_, i) => `${prefix}/live/${i}.pdf`);
  const expiredIds = await insertRows(db.pool, `${prefix}-e`, expiredKeys, 'General', '40 days');
  await insertRows(db.pool, `${prefix}-l`, liveKeys, 'General', '2 days');
  await putFiles(files.root, [...expiredKeys, ...liveKeys]);
  return { files, expiredKeys, expiredIds, liveKeys };
}

describe('storage faults at the adapter boundary (FileStorage, fault proof 2)', () => {
  it('records every injected failure by code, keeps rows (and files the store never touched), and the next run converges', async () => {
    const f = await fixture('mix', 1000, 50);
    const k = (i: number): string => f.expiredKeys[i]!;
    const plan: FaultPlan = {
      keys: {
        [k(3)]: { code: 'EACCES' },
        [k(104)]: { code: 'EIO' },
        [k(205)]: { code: 'ETIMEDOUT', delayMs: 30 },
        [k(306)]: { code: 'ECONNRESET' },
        // The store acted, then the answer was lost: the file is gone, the row must stay.
        [k(407)]: { code: 'ECONNRESET', when: 'after' },
        [k(508)]: { code: 'ETIMEDOUT', when: 'after', delayMs: 10 },
      },
      share: { seed, fraction: 0.02, faults: [{ code: 'EIO' }, { code: 'ETIMEDOUT', delayMs: 5 }, { code: 'EACCES' }, { code: 'ECONNRESET', when: 'after' }] },
      crashes: [{ call: 5 }, { call: 20, when: 'after' }],
    };
    const storage = new FaultInjectingStorage(new FileStorage({ root: f.files.root }), plan);
    const engine = createEngine({ databaseUrl: db.url, storage, batchSize: 25, summaryFailures: 1000 });
    try {
      await engine.migrate();
      const s = await engine.run();
      const injected = new Map(storage.injected.map((x) => [x.key, x]));
      expect(injected.size, `seed ${seed}: one fault per key`).toBe(storage.injected.length);
      expect(storage.injected.filter((x) => x.crash).length, 'two crashed calls of 25 keys').toBe(50);
      const expectedCode = (key: string): string => (injected.get(key)!.crash ? ErrorCodes.STORAGE : injected.get(key)!.code);

      expect(s.status, `seed ${seed}: ${JSON.stringify(s.error)}`).toBe('completed');
      expect(s.failed_count, `seed ${seed}`).toBe(injected.size);
      expect(s.deleted_count + s.failed_count).toBe(1000);
      expect(new Set(s.failed_files)).toEqual(new Set(injected.keys()));
      expect(new Map(s.errors.map((e) => [e.file_key, e.code]))).toEqual(new Map([...injected.keys()].map((key) => [key, expectedCode(key)])));
      const crashMessage = s.errors.find((e) => injected.get(e.file_key)!.crash)!.message;
      expect(crashMessage).toMatch(/injected crash: the storage worker died/);

      const ledger = await db.pool.query<{ file_key: string; error_code: string }>(
        `SELECT file_key, error_code FROM lethe_ledger WHERE outcome = 'failed' AND run_id = $1`,
        [s.run_id],
      );
      expect(new Map(ledger.rows.map((r) => [r.file_key, r.error_code]))).toEqual(new Map([...injected.keys()].map((key) => [key, expectedCode(key)])));
      expect(ledger.rows.length, 'one failed ledger row per failed key').toBe(injected.size);
      const kept = await db.pool.query<{ file_key: string }>(`SELECT file_key FROM jobs WHERE id = ANY($1)`, [f.expiredIds]);
      expect(new Set(kept.rows.map((r) => r.file_key)), 'exactly the failed keys keep their rows').toEqual(new Set(injected.keys()));
      for (const [key, x] of injected) {
        expect(await f.files.exists(key), `${key} (${x.code}, ${x.when}): file ${x.when === 'before' ? 'kept' : 'gone'}`).toBe(x.when === 'before');
      }
      await expectConsistent(db.pool, f.files, { ids: f.expiredIds, keys: f.expiredKeys }, f.liveKeys, `seed ${seed}, after the faulty run`);

      storage.enabled = false;
      const again = await engine.run();
      const afterKeys = [...injected.values()].filter((x) => x.when === 'after').length;
      expect(again, `seed ${seed}`).toMatchObject({
        status: 'completed',
        failed_count: 0,
        deleted_count: injected.size,
        absent_count: afterKeys,
        erased_count: injected.size - afterKeys,
      });
      await expectConverged(db.pool, f.files, f.expiredKeys, f.liveKeys);
    } finally {
      await engine.close();
      await storage.close();
      await f.files.remove();
    }
  });

  it('the seeded share picks the same keys for the same seed, whatever the batching, and about the share asked', async () => {
    const keys = Array.from({ length: 4000 }, (_, i) => `share/${i}.pdf`);
    const plan: FaultPlan = { share: { seed, fraction: 0.05, faults: [{ code: 'EIO' }, { code: 'EACCES' }] } };
    const picked = (s: FaultInjectingStorage): string[] => keys.filter((k) => s.faultFor(k) !== null);
    const memory = (): FaultInjectingStorage => new FaultInjectingStorage(new MemoryStorage(), plan);
    const a = picked(memory());
    expect(a, `seed ${seed}`).toEqual(picked(memory()));
    expect(a.length / keys.length).toBeGreaterThan(0.03);
    expect(a.length / keys.length).toBeLessThan(0.07);
    // Through deleteMany in different batch sizes: the same keys fail.
    for (const size of [1, 7, 1000]) {
      const s = memory();
      for (let i = 0; i < keys.length; i += size) await s.deleteMany(keys.slice(i, i + size));
      expect(
        s.injected.map((x) => x.key),
        `batches of ${size}`,
      ).toEqual(a);
    }
    const other = picked(new FaultInjectingStorage(new MemoryStorage(), { share: { ...plan.share!, seed: seed + 7 } }));
    expect(other).not.toEqual(a);
  });

  it('a timed-out delete is a failed outcome once the (fake) timer fires, never a hang or a lost outcome', async () => {
    const files = await createTempRoot('fault-timeout');
    const clock = new FakeClock();
    const storage = new FaultInjectingStorage(
      new FileStorage({ root: files.root }),
      { keys: { 'slow.pdf': { code: 'ETIMEDOUT', delayMs: 30_000 } } },
      { clock },
    );
    try {
      await putFiles(files.root, ['fast.pdf', 'slow.pdf', 'stopped.pdf']);
      let settled: KeyOutcome[] | null = null;
      const pending = storage.deleteMany(['fast.pdf', 'slow.pdf']).then((o) => (settled = o));
      // Everything but the timer has finished: the unlink of fast.pdf, and the wait is registered.
      await expect.poll(() => clock.pendingSleeps).toBe(1);
      expect(settled).toBeNull();
      clock.advance(29_999);
      await Promise.resolve();
      expect(settled).toBeNull();
      clock.advance(1);
      const out = await pending;
      expect(out).toMatchObject([
        { key: 'fast.pdf', outcome: 'erased' },
        { key: 'slow.pdf', outcome: 'failed', code: 'ETIMEDOUT', retryable: true },
      ]);
      expect(await files.exists('slow.pdf')).toBe(true);

      // A run that stops while the delete hangs still gets its outcome at once.
      const stop = new AbortController();
      const stopped = new FaultInjectingStorage(
        new FileStorage({ root: files.root }),
        { keys: { 'stopped.pdf': { code: 'ETIMEDOUT', delayMs: 60_000 } } },
        { clock: new FakeClock() },
      );
      const waiting = stopped.deleteMany(['stopped.pdf'], stop.signal);
      stop.abort();
      expect(await waiting).toMatchObject([
        { key: 'stopped.pdf', outcome: 'failed', code: 'ETIMEDOUT', message: expect.stringMatching(/stopped while it waited/) },
      ]);
      expect(await files.exists('stopped.pdf')).toBe(true);
      await stopped.close();
    } finally {
      await storage.close();
      await files.remove();
    }
  });
});
