import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, inspectJobsTable, placeHold, runErasureRequest, submitErasureRequest, type Engine, type ExpiredRow } from '@lethe/engine';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';

/**
 * An erasure request's batch re-checks under lock right before the storage call
 * (docs/rights.md#how-a-request-runs): what the platform (or an operator) commits while the batch
 * waits wins. The barrier is the run's beforeRecheck hook: the write is committed inside it, on
 * another connection, before the batch takes its locks (no sleeps).
 */
let db: TestDatabase;
let files: TempRoot;
let engine: Engine;
let n = 0;

beforeAll(async () => {
  db = await createTestDatabase('erasure_races');
  files = await createTempRoot('erasure-races');
  await createJobsTable(db.pool);
  await db.pool.query(`ALTER TABLE jobs ADD COLUMN user_id text`);
  engine = createEngine({ databaseUrl: db.url, storage: `file://${files.root}`, threads: 1, erasure: { principalColumn: 'user_id' } });
  await engine.migrate();
});

afterAll(async () => {
  await engine.close();
  await db.drop();
  await files.remove();
});

/** Two rows of a fresh principal, each with its own file; returns the principal and keys. */
async function seed(): Promise<{ user: string; keep: string; go: string }> {
  const user = `p${++n}`;
  const keep = `${user}/keep.pdf`;
  const go = `${user}/go.pdf`;
  await db.pool.query(
    `INSERT INTO jobs (id, user_id, purpose_code, file_key, created_at) VALUES ($1, $3, 'General', $4, now()), ($2, $3, 'General', $5, now())`,
    [`${user}-keep`, `${user}-go`, user, keep, go],
  );
  await files.put(keep);
  await files.put(go);
  return { user, keep, go };
}

async function request(user: string, during: (rows: readonly ExpiredRow[]) => Promise<void>) {
  const reference = `RACE-${user}`;
  await submitErasureRequest(engine, { reference, target: { kind: 'principal', values: [user] }, requestedBy: user, reason: 'request', submittedBy: 'test' });
  let calls = 0;
  return runErasureRequest(engine, reference, {
    beforeRecheck: async (rows) => {
      if (calls++ === 0) await during(rows);
    },
  });
}

const outcomeOf = async (jobId: string) =>
  (await db.pool.query<{ outcome: string; error: string | null }>(`SELECT outcome, error FROM lethe_ledger WHERE job_id = $1`, [jobId])).rows;

describe('erasure request re-check under lock', () => {
  it('a row re-pointed to another principal while the batch waits is kept with its file', async () => {
    const { user, keep, go } = await seed();
    const r = await request(user, async (rows) => {
      expect(rows.map((x) => x.id).sort()).toEqual([`${user}-go`, `${user}-keep`]);
      await db.pool.query(`UPDATE jobs SET user_id = 'someone-else' WHERE id = $1`, [`${user}-keep`]);
    });
    expect(await files.exists(keep)).toBe(true);
    expect(await files.exists(go)).toBe(false);
    expect(await outcomeOf(`${user}-keep`)).toEqual([]);
    expect(r.run).toMatchObject({ status: 'completed', erased_count: 1, changed_count: 1 });
    // No longer named: nothing is left for this request, so it completes.
    expect(r.request.state).toBe('completed');
  });

  it('a hold placed while the batch waits keeps the file and its row, recorded as held', async () => {
    const { user, keep, go } = await seed();
    const table = await inspectJobsTable(db.pool, engine.options.jobs);
    const r = await request(user, async () => {
      await placeHold(db.pool, table, { target: { fileKey: keep }, reason: 'litigation', by: 'legal' });
    });
    expect(await files.exists(keep)).toBe(true);
    expect(await files.exists(go)).toBe(false);
    expect(await outcomeOf(`${user}-keep`)).toEqual([{ outcome: 'held', error: 'kept: the file is under a legal hold' }]);
    expect(r.run).toMatchObject({ held_count: 1, erased_count: 1 });
  });

  it('a row re-classified to a retained purpose while the batch waits is refused with the statute', async () => {
    const { user, keep, go } = await seed();
    const r = await request(user, async () => {
      await db.pool.query(`UPDATE jobs SET purpose_code = 'Financial' WHERE id = $1`, [`${user}-keep`]);
    });
    expect(await files.exists(keep)).toBe(true);
    expect(await files.exists(go)).toBe(false);
    expect(await outcomeOf(`${user}-keep`)).toEqual([{ outcome: 'retained', error: engine.options.policies.Financial!.retainedUnder }]);
    expect(r.record.retained).toEqual([{ purpose: 'Financial', statute: engine.options.policies.Financial!.retainedUnder, rows: 1 }]);
    expect(r.request.state).toBe('completed');
  });

  it("a row another principal's new row comes to share while the batch waits: the named row goes, the file stays", async () => {
    const { user, keep, go } = await seed();
    const r = await request(user, async () => {
      await db.pool.query(`INSERT INTO jobs (id, user_id, purpose_code, file_key, created_at) VALUES ($1, 'other', 'General', $2, now())`, [
        `${user}-other`,
        keep,
      ]);
    });
    expect(await files.exists(keep)).toBe(true);
    expect(await files.exists(go)).toBe(false);
    expect(await outcomeOf(`${user}-keep`)).toEqual([
      { outcome: 'unlinked', error: 'the row was erased; its file stays: other rows share it (docs/safety.md#shared-keys)' },
    ]);
    const left = await db.pool.query(`SELECT id FROM jobs WHERE file_key = $1`, [keep]);
    expect(left.rows).toEqual([{ id: `${user}-other` }]);
    expect(r.request.state).toBe('completed');
  });

  it('a pause committed while the batch waits stops the request before storage; it stays open', async () => {
    const { user, keep, go } = await seed();
    const r = await request(user, async () => {
      await db.pool.query(`UPDATE lethe_control SET paused = true, paused_by = 'oncall', reason = 'incident' WHERE id = 1`);
    });
    await db.pool.query(`UPDATE lethe_control SET paused = false WHERE id = 1`);
    expect(await files.exists(keep)).toBe(true);
    expect(await files.exists(go)).toBe(true);
    expect(r.run).toMatchObject({ status: 'paused', erased_count: 0 });
    expect(r.request.state).toBe('open');
    const again = await runErasureRequest(engine, `RACE-${user}`);
    expect(again.request.state).toBe('completed');
    expect(await files.exists(keep)).toBe(false);
  });
});
