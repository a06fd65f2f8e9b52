import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEngine, ErrorCodes } from '@lethe/engine';
import { RUN_LOCK_KEY } from '@lethe/engine/testing';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { runCli, spawnCli, waitFor, waitForExit } from '../support/cli.js';
import { expectConverged } from '../support/convergence.js';
import { createTempRoot, type TempRoot } from '../support/files.js';

/**
 * Scale-out (docs/scaling.md#workers-of-one-group-lethe-run---group-id): several processes are workers of one logical run. They share the backlog
 * through row locks (FOR UPDATE SKIP LOCKED per batch); one is SIGKILLed mid-batch and its rows go
 * back to the pool; no key is processed twice or missed; the group writes one audit row.
 */
let db: TestDatabase;
let files: TempRoot;
let expiredKeys: string[] = [];
let liveKeys: string[] = [];

async function seed(expired: number, live: number): Promise<void> {
  await db.pool.query('TRUNCATE jobs');
  expiredKeys = Array.from({ length: expired }, (_, i) => `exp/${Math.floor(i / 500)}/${i}.pdf`);
  liveKeys = Array.from({ length: live }, (_, i) => `live/${i}.pdf`);
  await db.pool.query(
    `INSERT INTO jobs (id, file_key, purpose_code, created_at)
     SELECT 'e' || i, k, CASE WHEN i % 2 = 0 THEN 'System Testing' ELSE 'General' END, (now() AT TIME ZONE 'UTC') - interval '40 days' FROM unnest($1::text[]) WITH ORDINALITY AS t(k, i)
     UNION ALL
     SELECT 'l' || i, k, 'General', (now() AT TIME ZONE 'UTC') - interval '1 day' FROM unnest($2::text[]) WITH ORDINALITY AS t(k, i)`,
    [expiredKeys, liveKeys],
  );
  for (const k of [...expiredKeys, ...liveKeys]) await files.put(k);
}

const env = (): Record<string, string> => ({
  DATABASE_URL: db.url,
  LETHE_STORAGE: `file://${files.root}`,
  LETHE_BATCH_SIZE: '100',
  LETHE_DELETES_PER_SECOND: '1500',
  LETHE_THREADS: '1',
  LETHE_HEARTBEAT_MS: '200',
  LETHE_GROUP_STALE_MS: '1500',
});

beforeAll(async () => {
  db = await createTestDatabase('scale_out');
  files = await createTempRoot('scale');
  await createJobsTable(db.pool);
  expect((await runCli(['migrate'], { DATABASE_URL: db.url })).code).toBe(0);
});
afterAll(async () => {
  await db.drop();
  await files.remove();
});
beforeEach(async () => {
  await db.pool.query('TRUNCATE lethe_ledger, lethe_runs, lethe_group_skips, lethe_run_groups');
});

describe('workers of one logical run', () => {
  it('three workers share the backlog; one SIGKILLed mid-run; nothing missed, nothing twice, one audit row', async () => {
    await seed(4000, 200);
    const workers = [0, 1, 2].map(() => spawnCli(['run', '--json', '--group', 'job-a'], env()));
    const exits = workers.map(waitForExit);
    await waitFor(
      async () => (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM lethe_ledger`)).rows[0]!.n >= 1200,
      30_000,
      'a third of the work',
    );
    workers[1]!.kill('SIGKILL');
    const [a, killed, c] = await Promise.all(exits);
    expect(killed!.signal).toBe('SIGKILL');
    for (const r of [a!, c!]) {
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ status: 'completed', group_id: 'job-a', failed_count: 0 });
    }
    await expectConverged(db.pool, files, expiredKeys, liveKeys);
    const twice = await db.pool.query(`SELECT job_id FROM lethe_ledger GROUP BY job_id HAVING count(*) > 1`);
    expect(twice.rows).toEqual([]);
    const runs = await db.pool.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM lethe_runs WHERE group_id = 'job-a' GROUP BY 1 ORDER BY 1`,
    );
    expect(runs.rows).toEqual([
      { status: 'completed', n: 2 },
      { status: 'interrupted', n: 1 },
    ]);
    const audit = await db.pool.query(`SELECT details FROM audit_logs WHERE action = 'cleanup_expired_jobs' AND details->>'group_id' = 'job-a'`);
    expect(audit.rows).toHaveLength(1);
    expect(audit.rows[0].details).toMatchObject({ deleted_count: 4000, failed_count: 0 });
    expect(audit.rows[0].details.workers).toHaveLength(3);
    // Each surviving worker did a real share of the work.
    for (const r of [a!, c!]) expect(JSON.parse(r.stdout).deleted_count).toBeGreaterThan(300);
  });

  it('static shards i/N each take their own rows; the group finishes when every shard has', async () => {
    await seed(900, 30);
    const shards = await Promise.all([0, 1, 2].map((i) => runCli(['run', '--json', '--group', 'job-b', '--shard', `${i}/3`], env())));
    const counts = shards.map((r) => {
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout).deleted_count as number;
    });
    expect(counts.reduce((x, y) => x + y, 0)).toBe(900);
    for (const n of counts) expect(n).toBeGreaterThan(200);
    await expectConverged(db.pool, files, expiredKeys, liveKeys);
    const audit = await db.pool.query(`SELECT details FROM audit_logs WHERE action = 'cleanup_expired_jobs' AND details->>'group_id' = 'job-b'`);
    expect(audit.rows.map((r) => r.details.deleted_count)).toEqual([900]);
    const mixed = await runCli(['run', '--json', '--group', 'job-b', '--shard', '0/2'], env());
    expect(mixed.code).toBe(1);
    expect(mixed.stderr).toMatch(/already finished/);
    const bad = await runCli(['run', '--shard', '3/3', '--group', 'x'], env());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--shard: expected i\/N with 0 <= i < N/);
  });

  it('a solo run and group workers never overlap', async () => {
    await seed(10, 0);
    const engine = createEngine({ databaseUrl: db.url, storage: `file://${files.root}`, threads: 1 });
    const holder = await db.pool.connect();
    try {
      await holder.query(`SELECT pg_advisory_lock_shared($1)`, [RUN_LOCK_KEY]);
      await expect(engine.run()).rejects.toMatchObject({ code: ErrorCodes.RUN_IN_PROGRESS });
    } finally {
      await holder.query(`SELECT pg_advisory_unlock_all()`);
      holder.release();
      await engine.close();
    }
  });
});
