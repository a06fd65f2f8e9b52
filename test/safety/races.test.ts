import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_JOBS_TABLE, ErrorCodes, FileStorage, inspectJobsTable, placeHold, readControl, type KeyOutcome } from '@lethe/engine';
import { setPolicy } from '@lethe/engine/operations';
import { ago, createSafetyFixture, type SafetyFixture } from './fixture.js';

/**
 * The world moves while a batch waits (docs/safety.md#races). Each test makes one interleaving
 * happen on purpose, with a barrier, never a sleep:
 * - "while the batch waits": the run's `beforeRecheck` hook runs inside the batch's transaction,
 *   after every wait and before the re-check; the platform's write commits there.
 * - "while the batch is at storage": the storage adapter blocks in deleteMany until released; the
 *   platform's write is started, observed blocked on a lock in pg_stat_activity, then released.
 */
let f: SafetyFixture;

beforeAll(async () => {
  f = await createSafetyFixture('races');
});
afterAll(async () => {
  await f.close();
});
beforeEach(async () => {
  await f.reset();
  // One test changes a policy: every test starts from the seeded version.
  await f.db.pool.query(`DELETE FROM lethe_policy_versions WHERE version > 1`);
});
afterEach(async () => {
  await f.closeEngines();
});

interface Gate {
  readonly reached: Promise<void>;
  release(): void;
}

/** A storage whose first deleteMany waits at a gate: the batch holds its locks there. */
class GatedStorage extends FileStorage {
  readonly gate: Gate;
  #reached!: () => void;
  #release!: () => void;
  readonly #open: Promise<void>;
  #first = true;
  constructor(root: string) {
    super({ root });
    const reached = new Promise<void>((r) => (this.#reached = r));
    this.#open = new Promise<void>((r) => (this.#release = r));
    this.gate = { reached, release: () => this.#release() };
  }
  override async deleteMany(keys: readonly string[], signal?: AbortSignal): Promise<KeyOutcome[]> {
    if (this.#first) {
      this.#first = false;
      this.#reached();
      await this.#open;
    }
    return super.deleteMany(keys, signal);
  }
}

/** Runs `sql` on a connection of its own; resolves with its result or error once it finishes. */
async function platform(sql: string, params: unknown[] = []): Promise<{ client: pg.Client; pid: number; done: Promise<pg.QueryResult | Error> }> {
  const client = new pg.Client({ connectionString: f.db.url });
  await client.connect();
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  const done = client.query(sql, params).then(
    (r) => r,
    (e: Error) => e,
  );
  return { client, pid, done };
}

/** Waits until the backend is blocked on a lock (the event we need, polled; no fixed sleep). */
async function blockedOnLock(pid: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { rows } = await f.db.pool.query<{ w: string | null }>(`SELECT wait_event_type AS w FROM pg_stat_activity WHERE pid = $1`, [pid]);
    if (rows[0]?.w === 'Lock') return;
    if (Date.now() > deadline) throw new Error(`backend ${pid} never waited on a lock`);
    await new Promise((r) => setImmediate(r));
  }
}

const count = async (sql: string, params: unknown[] = []): Promise<number> => (await f.db.pool.query<{ n: number }>(sql, params)).rows[0]!.n;

describe('the platform writes while a batch waits (before its re-check)', () => {
  it('a row re-classified (Legal, created now) keeps its file and row; the ledger has nothing for it', async () => {
    await f.seed([
      { id: 'a', key: 'r/a.pdf' },
      { id: 'b', key: 'r/b.pdf' },
    ]);
    const s = await f.engine().run({
      beforeRecheck: async () => {
        await f.db.pool.query(`UPDATE jobs SET purpose_code = 'Legal', created_at = now() AT TIME ZONE 'UTC' WHERE id = 'a'`);
      },
    });
    expect(s).toMatchObject({ status: 'completed', deleted_count: 1, changed_count: 1 });
    expect(await f.files.exists('r/a.pdf')).toBe(true);
    expect(await f.files.exists('r/b.pdf')).toBe(false);
    expect(await f.jobRow('a')).toMatchObject({ purpose_code: 'Legal' });
    expect(await f.ledger(`job_id = 'a'`)).toEqual([]);
  });

  it('the ledger records the row as it was when deleted (re-classified but still expired)', async () => {
    await f.seed([{ id: 'a', key: 'r/a.pdf', purpose: 'General', age: '40 days' }]);
    await f.engine().run({
      beforeRecheck: async () => {
        await f.db.pool.query(`UPDATE jobs SET purpose_code = 'System Testing', created_at = (now() AT TIME ZONE 'UTC') - interval '3 days' WHERE id = 'a'`);
      },
    });
    const [row] = await f.ledger(`job_id = 'a'`);
    expect(row).toMatchObject({ outcome: 'erased', purpose_code: 'System Testing' });
    const ageHours = (Date.now() - (row!.created_at as Date).getTime()) / 3_600_000;
    expect(ageHours).toBeGreaterThan(71);
    expect(ageHours).toBeLessThan(73);
    expect((row!.expires_at as Date).getTime() - (row!.created_at as Date).getTime()).toBe(24 * 3_600_000);
  });

  it('a live row inserted at the key keeps the file (counted shared)', async () => {
    await f.seed([{ id: 'a', key: 's/a.pdf' }]);
    const s = await f.engine().run({
      beforeRecheck: async () => {
        await f.db.pool.query(`INSERT INTO jobs (id, file_key, purpose_code, created_at) VALUES ('live', 's/a.pdf', 'General', now() AT TIME ZONE 'UTC')`);
      },
    });
    expect(s).toMatchObject({ deleted_count: 0, shared_count: 1 });
    expect(await f.files.exists('s/a.pdf')).toBe(true);
  });

  it('a hold placed while the batch waits keeps the file (counted held)', async () => {
    await f.seed([{ id: 'a', key: 'h/a.pdf' }]);
    const table = await inspectJobsTable(f.db.pool, DEFAULT_JOBS_TABLE);
    const s = await f.engine().run({
      beforeRecheck: async () => {
        await placeHold(f.db.pool, table, { target: { fileKey: 'h/a.pdf' }, reason: 'litigation', by: 'legal' });
      },
    });
    expect(s).toMatchObject({ deleted_count: 0, held_count: 1 });
    expect(await f.files.exists('h/a.pdf')).toBe(true);
  });

  it('a row the platform deletes is not erased by Lethe: the file stays (for reconcile), no ledger row, counted vanished', async () => {
    await f.seed([
      { id: 'a', key: 'v/a.pdf' },
      { id: 'b', key: 'v/b.pdf' },
    ]);
    const s = await f.engine().run({
      beforeRecheck: async () => {
        await f.db.pool.query(`DELETE FROM jobs WHERE id = 'a'`);
      },
    });
    expect(s).toMatchObject({ deleted_count: 1, vanished_count: 1 });
    expect(await f.files.exists('v/a.pdf')).toBe(true);
    expect(await f.ledger(`job_id = 'a'`)).toEqual([]);
  });

  it('a pause committed while the batch waits stops it before storage; the run ends paused', async () => {
    await f.seed([{ id: 'a', key: 'p/a.pdf' }]);
    const s = await f.engine().run({
      beforeRecheck: async () => {
        await f.db.pool.query(`UPDATE lethe_control SET paused = true, paused_by = 'oncall', reason = 'EMERGENCY-001' WHERE id = 1`);
      },
    });
    expect(s).toMatchObject({ status: 'paused', deleted_count: 0 });
    expect(await f.files.exists('p/a.pdf')).toBe(true);
    expect(await f.jobRow('a')).not.toBeNull();
  });

  it('a policy change committed while the batch waits stops the run before storage (LETHE_E_POLICY_CHANGED)', async () => {
    await f.seed([{ id: 'a', key: 'pc/a.pdf' }]);
    const admin = f.engine();
    const s = await f.engine().run({
      beforeRecheck: async () => {
        expect(await setPolicy(admin, { purpose: 'General', duration: '90d', by: 'dpo' })).toMatchObject({ applied: true });
      },
    });
    expect(s).toMatchObject({ status: 'failed', deleted_count: 0, error: { code: ErrorCodes.POLICY_CHANGED } });
    expect(await f.files.exists('pc/a.pdf')).toBe(true);
  });

  it('in a worker group too: an INSERT at a claimed key waits for the batch (its rows are locked from the claim) and then fails with 40001', async () => {
    await f.seed([
      { id: 'a', key: 'g/a.pdf' },
      { id: 'b', key: 'g/b.pdf' },
    ]);
    let insert: Awaited<ReturnType<typeof platform>> | undefined;
    try {
      const s = await f.engine().run({
        group: 'races-g',
        beforeRecheck: async () => {
          // Not awaited to the end: it waits on the claim's row lock until the batch commits.
          insert = await platform(`INSERT INTO jobs (id, file_key, purpose_code, created_at) VALUES ('live', 'g/a.pdf', 'General', now() AT TIME ZONE 'UTC')`);
          await blockedOnLock(insert.pid);
        },
      });
      expect(s).toMatchObject({ status: 'completed', deleted_count: 2 });
      const result = await insert!.done;
      expect((result as Error & { code?: string }).code).toBe('40001');
    } finally {
      await insert?.client.end();
    }
    expect(await count(`SELECT count(*)::int AS n FROM jobs`)).toBe(0);
  });
});

describe('the platform writes while the batch is at storage (after its re-check)', () => {
  it('an INSERT at the key waits for the batch, then fails with 40001 (the key guard); no live row points at the erased file', async () => {
    await f.seed([{ id: 'a', key: 'k/a.pdf' }]);
    const storage = new GatedStorage(f.files.root);
    const run = f.engine({ storage }).run();
    await reachedOrFailed(storage, run);
    const insert = await platform(`INSERT INTO jobs (id, file_key, purpose_code, created_at) VALUES ('late', 'k/a.pdf', 'General', now() AT TIME ZONE 'UTC')`);
    try {
      await blockedOnLock(insert.pid);
      storage.gate.release();
      expect(await run).toMatchObject({ deleted_count: 1 });
      const result = await insert.done;
      expect(result).toBeInstanceOf(Error);
      expect((result as Error & { code?: string }).code).toBe('40001');
      expect((result as Error).message).toMatch(/file_key k\/a\.pdf was erased by a retention run/);
    } finally {
      await insert.client.end();
    }
    expect(await count(`SELECT count(*)::int AS n FROM jobs WHERE file_key = 'k/a.pdf'`)).toBe(0);
  });

  it('a re-classification and a delete of the batch rows wait for its commit and then find no row', async () => {
    await f.seed([
      { id: 'a', key: 'u/a.pdf' },
      { id: 'b', key: 'u/b.pdf' },
    ]);
    const storage = new GatedStorage(f.files.root);
    const run = f.engine({ storage }).run();
    await reachedOrFailed(storage, run);
    const update = await platform(`UPDATE jobs SET purpose_code = 'Legal', created_at = now() WHERE id = 'a'`);
    const del = await platform(`DELETE FROM jobs WHERE id = 'b'`);
    try {
      await blockedOnLock(update.pid);
      await blockedOnLock(del.pid);
      storage.gate.release();
      expect(await run).toMatchObject({ deleted_count: 2 });
      expect(await update.done).toMatchObject({ rowCount: 0 });
      expect(await del.done).toMatchObject({ rowCount: 0 });
    } finally {
      await update.client.end();
      await del.client.end();
    }
    // Each erased file has exactly one ledger row.
    expect((await f.ledger()).map((r) => [r.job_id, r.outcome])).toEqual([
      ['a', 'erased'],
      ['b', 'erased'],
    ]);
  });

  it('`lethe hold` on a key being erased waits, then says it was already erased (by which run) instead of HELD', async () => {
    await f.seed([{ id: 'a', key: 'hh/a.pdf' }]);
    const table = await inspectJobsTable(f.db.pool, DEFAULT_JOBS_TABLE);
    const storage = new GatedStorage(f.files.root);
    const run = f.engine({ storage }).run();
    await reachedOrFailed(storage, run);
    const hold = placeHold(f.db.pool, table, { target: { fileKey: 'hh/a.pdf' }, reason: 'litigation', by: 'legal' }).then(
      (h) => h,
      (e: Error) => e,
    );
    const pid = await waitForBackend(`%FOR KEY SHARE%`);
    await blockedOnLock(pid);
    storage.gate.release();
    const s = await run;
    const result = await hold;
    expect(result).toBeInstanceOf(Error);
    expect(result).toMatchObject({ code: ErrorCodes.GONE, message: expect.stringContaining(`already erased by run ${s.run_id}`) });
    expect(await count(`SELECT count(*)::int AS n FROM lethe_holds`)).toBe(0);
  });

  it('a pause waits for the batch at storage to commit, so when it is acknowledged nothing more reaches storage', async () => {
    await f.seed(Array.from({ length: 30 }, (_, i) => ({ id: `p${i}`, key: `pw/${i}.pdf` })));
    const storage = new GatedStorage(f.files.root);
    const run = f.engine({ storage, batchSize: 10, maxBatchesInFlight: 1 }).run();
    await reachedOrFailed(storage, run);
    const pause = await platform(`UPDATE lethe_control SET paused = true, paused_by = 'oncall', reason = 'stop' WHERE id = 1`);
    let atAck: number;
    try {
      await blockedOnLock(pause.pid);
      storage.gate.release();
      await pause.done;
      // Acknowledged: what is erased now is all this run will erase (a batch that took the control
      // row's share lock before the pause got it finished first; none starts after).
      atAck = await count(`SELECT count(*)::int AS n FROM lethe_ledger`);
    } finally {
      await pause.client.end();
    }
    const s = await run;
    expect(s.status).toBe('paused');
    expect(atAck).toBeGreaterThanOrEqual(10);
    expect(s.deleted_count).toBe(atAck);
    expect(await count(`SELECT count(*)::int AS n FROM lethe_ledger`)).toBe(atAck);
    expect(await count(`SELECT count(*)::int AS n FROM jobs`)).toBe(30 - atAck);
    expect((await readControl(f.db.pool)).paused).toBe(true);
  });
});

describe('keys shared across batches', () => {
  async function seedShared(live: boolean): Promise<void> {
    // Row n and row n+100 share a key and fall into consecutive batches of 100.
    const rows = Array.from({ length: 800 }, (_, n) => ({ id: `s${n}`, key: `k/${(n % 100) + 100 * Math.floor(n / 200)}.pdf`, n }));
    await f.db.pool.query(
      `INSERT INTO jobs (id, file_key, purpose_code, created_at)
       SELECT r.id, r.k, 'General', (now() AT TIME ZONE 'UTC') - interval '40 days' - (800 - r.n) * interval '1 second' FROM unnest($1::text[], $2::text[], $3::int[]) AS r(id, k, n)`,
      [rows.map((r) => r.id), rows.map((r) => r.key), rows.map((r) => r.n)],
    );
    for (const key of new Set(rows.map((r) => r.key))) await f.files.put(key);
    if (live)
      await f.db.pool.query(
        `INSERT INTO jobs (id, file_key, purpose_code, created_at) SELECT 'live-' || k, k, 'Legal', now() AT TIME ZONE 'UTC' FROM (SELECT DISTINCT file_key AS k FROM jobs) d`,
      );
  }

  it('every row is counted once, in the right column, when batches in flight share keys', async () => {
    await seedShared(false);
    const s = await f.engine({ batchSize: 100, threads: 2 }).run();
    expect(s).toMatchObject({ status: 'completed', selected_count: 800, deleted_count: 800, changed_count: 0, vanished_count: 0 });
    expect((await f.ledger(`outcome IN ('erased', 'absent')`)).length).toBe(800);
  });

  it('with a live row at every key, every expired row is counted shared', async () => {
    await seedShared(true);
    const s = await f.engine({ batchSize: 100, threads: 2 }).run();
    expect(s).toMatchObject({ status: 'completed', selected_count: 800, deleted_count: 0, shared_count: 800, changed_count: 0 });
  });
});

describe('a stop while a batch waits in the rate limiter', () => {
  it('SIGTERM (the abort signal) ends the wait without deleting the waiting batch', async () => {
    await f.seed(Array.from({ length: 20 }, (_, i) => ({ id: `t${i}`, key: `t/${String(i).padStart(2, '0')}.pdf` })));
    const abort = new AbortController();
    // Batches of 10 at 10 deletes per second: while the first is at storage, the second waits about
    // a second in the limiter. The stop comes from inside the first storage call.
    class AbortingStorage extends FileStorage {
      override async deleteMany(keys: readonly string[], signal?: AbortSignal): Promise<KeyOutcome[]> {
        const out = await super.deleteMany(keys, signal);
        abort.abort(new Error('SIGTERM'));
        return out;
      }
    }
    const storage = new AbortingStorage({ root: f.files.root });
    const s = await f.engine({ storage, batchSize: 10, deletesPerSecond: 10, maxBatchesInFlight: 1 }).run({ signal: abort.signal });
    expect(s).toMatchObject({ status: 'interrupted', deleted_count: 10 });
    expect(await count(`SELECT count(*)::int AS n FROM jobs`)).toBe(10);
    for (let i = 10; i < 20; i++) expect(await f.files.exists(`t/${String(i).padStart(2, '0')}.pdf`)).toBe(true);
  });
});

/** The batch reached storage; if the run ended first, its summary says why (never hangs). */
async function reachedOrFailed(storage: GatedStorage, run: Promise<unknown>): Promise<void> {
  const ended = run.then((s) => {
    throw new Error(`the run ended before reaching storage: ${JSON.stringify(s)}`);
  });
  await Promise.race([storage.gate.reached, ended]);
}

/** The pid of the one other backend whose query matches `pattern` (the hold's lock statement). */
async function waitForBackend(pattern: string): Promise<number> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { rows } = await f.db.pool.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid() AND state = 'active'`,
      [pattern],
    );
    if (rows[0]) return rows[0].pid;
    if (Date.now() > deadline) throw new Error(`no backend runs a query like ${pattern}`);
    await new Promise((r) => setImmediate(r));
  }
}
