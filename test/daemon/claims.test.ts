import { claimCatchUpSlot, claimScheduleSlot, createEngine } from '@lethe/engine';
import { RUN_LOCK_KEY } from '@lethe/engine/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('daemon_claims');
  const engine = createEngine({ databaseUrl: db.url });
  try {
    await engine.migrate({ createJobsIndexes: false });
  } finally {
    await engine.close();
  }
});

afterAll(async () => {
  await db.drop();
});

/** N separate connections race for one slot, as N replicas do. */
async function race(n: number, claim: (c: pg.Client, i: number) => Promise<boolean>): Promise<boolean[]> {
  const clients = await Promise.all(
    Array.from({ length: n }, async () => {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      return c;
    }),
  );
  try {
    return await Promise.all(clients.map((c, i) => claim(c, i)));
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

async function failedRunClaim(slot: string, status: string, claimedAgo: string): Promise<void> {
  const { rows } = await db.pool.query<{ id: string }>(`INSERT INTO lethe_runs (id, trigger, status) VALUES (gen_random_uuid(), 'schedule', $1) RETURNING id`, [
    status,
  ]);
  await db.pool.query(`INSERT INTO lethe_schedule_claims (slot, instance_id, claimed_at, run_id) VALUES ($1, 'old-pod', now() - $2::interval, $3)`, [
    slot,
    claimedAgo,
    rows[0]!.id,
  ]);
}

describe('schedule claims on real Postgres', () => {
  it('a scheduled slot is won by exactly one of eight concurrent replicas', async () => {
    const won = await race(8, (c, i) => claimScheduleSlot(c, '2025-11-30T02:00:00Z', `pod-${i}`));
    expect(won.filter(Boolean)).toHaveLength(1);
  });

  it('a catch-up slot is won once by concurrent replicas, then not again while fresh', async () => {
    const won = await race(6, (c, i) => claimCatchUpSlot(c, '2025-11-29T02:00:00Z', `pod-${i}`));
    expect(won.filter(Boolean)).toHaveLength(1);
    expect(await claimCatchUpSlot(db.pool, '2025-11-29T02:00:00Z', 'late-pod')).toBe(false);
  });

  it('a catch-up may take over the claim of a run that failed or was interrupted, once', async () => {
    await failedRunClaim('2025-11-28T02:00:00Z', 'interrupted', '2 hours');
    const won = await race(4, (c, i) => claimCatchUpSlot(c, '2025-11-28T02:00:00Z', `pod-${i}`));
    expect(won.filter(Boolean)).toHaveLength(1);
  });

  it('never takes over a completed run, a fresh claim, or while a run holds the run lock', async () => {
    await failedRunClaim('2025-11-27T02:00:00Z', 'completed', '2 hours');
    expect(await claimCatchUpSlot(db.pool, '2025-11-27T02:00:00Z', 'pod')).toBe(false);
    await failedRunClaim('2025-11-26T02:00:00Z', 'failed', '10 seconds');
    expect(await claimCatchUpSlot(db.pool, '2025-11-26T02:00:00Z', 'pod')).toBe(false);
    // A run whose process died stays 'running'; while the run lock is held someone is still at it.
    await failedRunClaim('2025-11-25T02:00:00Z', 'running', '2 hours');
    const holder = await db.pool.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [RUN_LOCK_KEY]);
      expect(await claimCatchUpSlot(db.pool, '2025-11-25T02:00:00Z', 'pod')).toBe(false);
      await holder.query('SELECT pg_advisory_unlock($1)', [RUN_LOCK_KEY]);
    } finally {
      holder.release();
    }
    expect(await claimCatchUpSlot(db.pool, '2025-11-25T02:00:00Z', 'pod')).toBe(true);
  });
});
