import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEngine, ErrorCodes, readControl, resume, type Engine, type EngineOptions } from '@lethe/engine';
import { revertPolicy, setPolicy } from '@lethe/engine/operations';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { waitFor } from '../support/cli.js';
import { createTempRoot, type TempRoot } from '../support/files.js';

/**
 * Workers of a group (`run({ group })`, docs/scaling.md) obey the guards a solo run obeys: the
 * blast-radius guard judges the group's whole backlog once, when the group is created, and every
 * worker abides by that verdict; a worker does not join a group started under a superseded policy.
 */
const UTC_NOW = `(now() AT TIME ZONE 'UTC')`;
let db: TestDatabase;
let files: TempRoot;
const engines: Engine[] = [];

function engine(o: Partial<EngineOptions> = {}): Engine {
  const e = createEngine({ databaseUrl: db.url, storage: `file://${files.root}`, threads: 1, batchSize: 10, ...o });
  engines.push(e);
  return e;
}

async function seed(n: number, prefix: string): Promise<string[]> {
  const keys = Array.from({ length: n }, (_, i) => `${prefix}/${i}.pdf`);
  await db.pool.query(
    `INSERT INTO jobs (id, file_key, purpose_code, created_at) SELECT k, k, 'General', ${UTC_NOW} - interval '40 days' FROM unnest($1::text[]) k`,
    [keys],
  );
  for (const k of keys) await files.put(k);
  return keys;
}

async function count(sql: string): Promise<number> {
  return (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`)).rows[0]!.n;
}

async function present(keys: readonly string[]): Promise<number> {
  let n = 0;
  for (const k of keys) if (await files.exists(k)) n++;
  return n;
}

beforeAll(async () => {
  db = await createTestDatabase('group_guards');
  await createJobsTable(db.pool);
  const e = createEngine({ databaseUrl: db.url });
  await e.migrate();
  await e.close();
});
afterAll(async () => {
  await db.drop();
});
beforeEach(async () => {
  files = await createTempRoot('group-guards');
  await db.pool.query('TRUNCATE jobs, lethe_runs, lethe_ledger, lethe_run_groups, lethe_group_skips');
  await db.pool.query(`DELETE FROM audit_logs WHERE action = 'cleanup_blast_radius_refused'`);
  await db.pool.query('DELETE FROM lethe_policy_versions WHERE version > 1');
  await resume(db.pool, { by: 'test' });
});
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
  await files.remove();
});

describe('blast-radius guard for a group', () => {
  it('cap 10, 50 expired: the group refuses, pauses Lethe, deletes nothing; its joiners refuse too; allowLarge proceeds', async () => {
    const keys = await seed(50, 'big');
    const e = engine({ maxDeletesPerRun: 10 });
    await expect(e.run({ group: 'g-cap' })).rejects.toMatchObject({
      code: ErrorCodes.BLAST_RADIUS,
      message: expect.stringMatching(/would erase 50 files, above the blast-radius threshold 10/),
    });
    expect(await readControl(db.pool)).toMatchObject({ paused: true, pausedBy: 'lethe:blast-radius-guard' });
    expect(await count('jobs')).toBe(50);
    expect(await present(keys)).toBe(50);
    expect(await count(`audit_logs WHERE action = 'cleanup_blast_radius_refused'`)).toBe(1);

    await resume(db.pool, { by: 'oncall' });
    // The group stays refused: a later worker of it is refused on the group's verdict, without counting or pausing again.
    await expect(e.run({ group: 'g-cap' })).rejects.toMatchObject({
      code: ErrorCodes.BLAST_RADIUS,
      message: expect.stringMatching(/group "g-cap" was refused by the blast-radius guard/),
    });
    expect(await readControl(db.pool)).toMatchObject({ paused: false });
    expect(await count('jobs')).toBe(50);

    const s = await e.run({ group: 'g-cap', allowLarge: true });
    expect(s).toMatchObject({ status: 'completed', deleted_count: 50, group_id: 'g-cap' });
    expect(s.blast_radius).toMatchObject({ wouldErase: 50, threshold: 10, allowed: false });
    expect(await present(keys)).toBe(0);
  });

  it('a group vetted with allowLarge is not counted again by a worker joining later', async () => {
    const keys = await seed(50, 'vet');
    const e = engine({ maxDeletesPerRun: 10 });
    const first = await e.run({ group: 'g-vet', shard: { index: 0, count: 2 }, allowLarge: true });
    expect(first.status).toBe('completed');
    expect(first.deleted_count).toBeGreaterThan(10);
    // 50 - first > 10 rows are left: a recount would refuse this worker.
    const second = await e.run({ group: 'g-vet', shard: { index: 1, count: 2 } });
    expect(second.deleted_count).toBe(50 - first.deleted_count);
    expect(await present(keys)).toBe(0);
    expect(await count(`audit_logs WHERE action = 'cleanup_blast_radius_refused'`)).toBe(0);
    const audit = await db.pool.query(`SELECT details FROM audit_logs WHERE action = 'cleanup_expired_jobs' AND details->>'group_id' = 'g-vet'`);
    expect(audit.rows.map((r) => r.details.blast_radius)).toEqual([
      { decision: 'allowed_large', purposes: expect.arrayContaining(['General']), check: expect.objectContaining({ wouldErase: 50, threshold: 10 }) },
    ]);
  });

  it('two workers creating the group at once both refuse; only one counts', async () => {
    const keys = await seed(50, 'race');
    const a = engine({ maxDeletesPerRun: 10 });
    const b = engine({ maxDeletesPerRun: 10 });
    // Hold lethe_runs so that neither worker can get past the group's creation until both have tried to create it.
    const holder = await db.pool.connect();
    let runs: Promise<PromiseSettledResult<unknown>[]>;
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE lethe_runs IN ACCESS EXCLUSIVE MODE');
      runs = Promise.allSettled([a.run({ group: 'g-race' }), b.run({ group: 'g-race' })]);
      await waitFor(
        async () => (await count(`pg_stat_activity WHERE datname = '${db.name}' AND wait_event_type = 'Lock'`)) >= 2,
        20_000,
        'both workers waiting',
      );
    } finally {
      await holder.query('COMMIT');
      holder.release();
    }
    const results = await runs;
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: ErrorCodes.BLAST_RADIUS });
    }
    // One created and judged the group; the other waited for that verdict and abided by it.
    const messages = results.map((r) => String((r as PromiseRejectedResult).reason.message)).sort();
    expect(messages[0]).toMatch(/^blast-radius guard: this run would erase 50 files/);
    expect(messages[1]).toMatch(/^group "g-race" was refused by the blast-radius guard when it started/);
    expect(await readControl(db.pool)).toMatchObject({ paused: true });
    expect(await count(`audit_logs WHERE action = 'cleanup_blast_radius_refused'`)).toBe(1);
    expect(await count('jobs')).toBe(50);
    expect(await present(keys)).toBe(50);
    expect(await count('lethe_runs')).toBe(0);
  });
});

describe('policy version of a group', () => {
  it('a worker joining after a policy change or a revert refuses, and deletes nothing', async () => {
    await seed(40, 'pol');
    const e = engine();
    const first = await e.run({ group: 'g-pol', shard: { index: 0, count: 2 } });
    expect(first).toMatchObject({ status: 'completed', policy_version: 1 });
    const left = 40 - first.deleted_count;
    expect(left).toBeGreaterThan(0);
    // Under the new policy the remaining 40-day-old rows are no longer expired.
    expect(await setPolicy(e, { purpose: 'General', duration: '90d', by: 'test' })).toMatchObject({ applied: true, version: 2 });
    await expect(e.run({ group: 'g-pol', shard: { index: 1, count: 2 } })).rejects.toMatchObject({
      code: ErrorCodes.POLICY_CHANGED,
      message: expect.stringMatching(/group "g-pol" started under policy version 1; the current version is 2.*start a new group/),
    });
    expect(await count('jobs')).toBe(left);
    expect(await count(`lethe_runs WHERE group_id = 'g-pol'`)).toBe(1);

    // A revert is a new version too (3, same policies as 1): the group still does not take workers.
    expect(await revertPolicy(e, { version: 1, by: 'test', confirm: true })).toMatchObject({ applied: true, version: 3 });
    await expect(e.run({ group: 'g-pol', shard: { index: 1, count: 2 } })).rejects.toMatchObject({
      code: ErrorCodes.POLICY_CHANGED,
      message: expect.stringMatching(/version 1; the current version is 3/),
    });
    expect(await count('jobs')).toBe(left);

    // A new group runs under the current version.
    expect(await e.run({ group: 'g-pol-2' })).toMatchObject({ status: 'completed', policy_version: 3, deleted_count: left });
  });
});
