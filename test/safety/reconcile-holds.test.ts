import { randomUUID } from 'node:crypto';
import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_JOBS_TABLE, ErrorCodes, inspectJobsTable, placeHold, type ObjectInfo } from '@lethe/engine';
import { reconcile } from '@lethe/engine/operations';
import {
  heldKeysNow,
  withHoldsLocked,
  eraseOrphanFiles,
  removeOrphanRows,
  type ActContext,
  orphanFileBatches,
  orphanRowBatches,
  type OrphanRow,
  type ScanContext,
} from '@lethe/engine/testing';
import { createSafetyFixture, type SafetyFixture } from './fixture.js';

/**
 * `reconcile --apply` re-checks legal holds as it acts, not only when it scans: a hold placed
 * between the scan of a batch and its deletes still keeps the file or row (real Postgres, real files).
 */
let f: SafetyFixture;

beforeAll(async () => {
  f = await createSafetyFixture('rholds');
});
afterAll(async () => {
  await f.close();
});
beforeEach(async () => {
  await f.reset();
});

const DAY_MS = 86_400_000;

async function oldFile(key: string): Promise<void> {
  await f.files.put(key, `content of ${key}`);
  const when = new Date(Date.now() - 3 * DAY_MS);
  await utimes(join(f.files.root, key), when, when);
}

async function hold(fileKey: string): Promise<void> {
  await placeHold(f.db.pool, await inspectJobsTable(f.db.pool, DEFAULT_JOBS_TABLE), { target: { fileKey }, reason: 'placed after the scan', by: 'legal' });
}

async function scanContext(): Promise<ScanContext> {
  const engine = f.engine();
  const { rows } = await f.db.pool.query<{ now: Date }>('SELECT now() AS now');
  return {
    pool: f.db.pool,
    table: await inspectJobsTable(f.db.pool, DEFAULT_JOBS_TABLE),
    storage: engine.storage(),
    now: rows[0]!.now.toISOString(),
    minAgeMs: DAY_MS,
    batchSize: 100,
    concurrency: 4,
    ledgerKey: (k) => k,
  };
}

describe('reconcile --apply and a hold placed after the scan', () => {
  it('keeps an orphan file whose key came under a hold between the scan and the delete', async () => {
    await oldFile('o/a.pdf');
    await oldFile('o/b.pdf');
    const scan = await scanContext();
    const orphans: ObjectInfo[] = [];
    for await (const b of orphanFileBatches(scan)) orphans.push(...b.orphans);
    expect(orphans.map((o) => o.key).sort()).toEqual(['o/a.pdf', 'o/b.pdf']);

    await hold('o/a.pdf');
    const ctx: ActContext = { scan, reconcileId: randomUUID(), policyVersion: 1 };
    const done = await eraseOrphanFiles(ctx, orphans);
    expect(done.held.map((o) => o.key)).toEqual(['o/a.pdf']);
    expect(done.outcomes).toMatchObject([{ key: 'o/b.pdf', outcome: 'erased' }]);
    expect(await f.files.exists('o/a.pdf')).toBe(true);
    expect(await f.files.exists('o/b.pdf')).toBe(false);
    expect((await f.ledger()).map((r) => r.file_key)).toEqual(['o/b.pdf']);
  });

  it('keeps an orphan row whose key came under a hold between the scan and the delete', async () => {
    await f.db.pool.query(`INSERT INTO jobs (id, file_key, purpose_code, created_at) VALUES
      ('held', 'o/held-missing.pdf', 'General', (now() AT TIME ZONE 'UTC') - interval '5 days'),
      ('gone', 'o/gone-missing.pdf', 'General', (now() AT TIME ZONE 'UTC') - interval '5 days')`);
    const scan = await scanContext();
    const orphans: OrphanRow[] = [];
    for await (const b of orphanRowBatches(scan)) orphans.push(...b.orphans);
    expect(orphans.map((r) => r.id).sort()).toEqual(['gone', 'held']);

    await hold('o/held-missing.pdf');
    const done = await removeOrphanRows({ scan, reconcileId: randomUUID(), policyVersion: 1 }, orphans, [], false);
    expect(done).toMatchObject({ removed: 1, held: [{ id: 'held' }] });
    const { rows } = await f.db.pool.query<{ id: string }>('SELECT id FROM jobs ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual(['held']);
    expect((await f.ledger()).map((r) => r.job_id)).toEqual(['gone']);
  });

  it('a hold being placed on an orphan row (its row locked, as placeHold does first) is waited for and wins, without a deadlock', async () => {
    await f.db.pool.query(
      `INSERT INTO jobs (id, file_key, purpose_code, created_at) VALUES ('racing', 'o/racing.pdf', 'General', (now() AT TIME ZONE 'UTC') - interval '5 days')`,
    );
    const scan = await scanContext();
    const orphans: OrphanRow[] = [];
    for await (const b of orphanRowBatches(scan)) orphans.push(...b.orphans);
    expect(orphans.map((r) => r.id)).toEqual(['racing']);
    // placeHold's two steps, with reconcile acting between them: lock a row of the key, then insert the hold.
    const holder = await f.db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM jobs WHERE file_key = 'o/racing.pdf' LIMIT 1 FOR KEY SHARE`);
      const acting = removeOrphanRows({ scan, reconcileId: randomUUID(), policyVersion: 1 }, orphans, [], false);
      await waitForLockWait();
      await holder.query(`INSERT INTO lethe_holds (file_key, reason, created_by) VALUES ('o/racing.pdf', 'racing', 'legal')`);
      await holder.query('COMMIT');
      expect(await acting).toMatchObject({ removed: 0, held: [{ id: 'racing' }] });
    } finally {
      holder.release();
    }
    expect((await f.db.pool.query(`SELECT id FROM jobs`)).rows).toEqual([{ id: 'racing' }]);
    expect(await f.ledger()).toEqual([]);
  });

  it('a hold placed while a batch is being acted on waits for the batch, and is seen by the next one', async () => {
    const table = await inspectJobsTable(f.db.pool, DEFAULT_JOBS_TABLE);
    let placing: Promise<unknown> | undefined;
    const seenInside = await withHoldsLocked(f.db.pool, async (db) => {
      placing = placeHold(f.db.pool, table, { target: { fileKey: 'o/late.pdf' }, reason: 'late', by: 'legal' });
      await waitForBlockedHoldInsert();
      return heldKeysNow(db, ['o/late.pdf']);
    });
    await placing;
    expect([...seenInside]).toEqual([]);
    expect([...(await heldKeysNow(f.db.pool, ['o/late.pdf']))]).toEqual(['o/late.pdf']);
  });
});

describe('reconcile prefix', () => {
  it.each([
    ['../outside', ErrorCodes.KEY_OUTSIDE_ROOT],
    ['/abs', ErrorCodes.KEY_OUTSIDE_ROOT],
    ['a//b', ErrorCodes.KEY_INVALID],
    ['a\0b', ErrorCodes.KEY_INVALID],
  ])('refuses %j as a ConfigError before listing anything', async (prefix, code) => {
    await oldFile('x.pdf');
    const attempt = reconcile(f.engine(), { prefix, by: 'test', apply: true, maxOrphanShare: 1 });
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toMatchObject({ code, message: expect.stringMatching(/^prefix: /) });
    expect(await f.files.exists('x.pdf')).toBe(true);
    expect(await f.ledger()).toEqual([]);
  });
});

/** Until a statement is waiting for a lock on lethe_holds (bounded: the test's timeout). */
async function waitForBlockedHoldInsert(): Promise<void> {
  for (;;) {
    const { rows } = await f.db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_locks WHERE database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND relation = 'lethe_holds'::regclass AND NOT granted`,
    );
    if (rows[0]!.n > 0) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Until some statement in this database waits for a lock (bounded: the test's timeout). */
async function waitForLockWait(): Promise<void> {
  for (;;) {
    const { rows } = await f.db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    if (rows[0]!.n > 0) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
