import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { runCli, spawnCli, waitFor, waitForExit } from '../support/cli.js';
import { expectConverged } from '../support/convergence.js';
import { createTempRoot, type TempRoot } from '../support/files.js';

/** A run killed with SIGKILL at several points, then run again, converges with nothing lost. */
const EXPIRED = 3000;
const LIVE = 300;
let db: TestDatabase;
let files: TempRoot;
const expiredKeys = Array.from({ length: EXPIRED }, (_, i) => `exp/${Math.floor(i / 100)}/${i}.pdf`);
const liveKeys = Array.from({ length: LIVE }, (_, i) => `live/${i}.pdf`);

beforeAll(async () => {
  db = await createTestDatabase('crash');
  files = await createTempRoot('crash');
  await createJobsTable(db.pool);
  await db.pool.query(
    `INSERT INTO jobs (id, file_key, purpose_code, created_at)
     SELECT 'e' || i, k, 'System Testing', (now() AT TIME ZONE 'UTC') - interval '2 days' FROM unnest($1::text[]) WITH ORDINALITY AS t(k, i)
     UNION ALL
     SELECT 'l' || i, k, 'System Testing', (now() AT TIME ZONE 'UTC') - interval '1 hour' FROM unnest($2::text[]) WITH ORDINALITY AS t(k, i)`,
    [expiredKeys, liveKeys],
  );
  for (const k of [...expiredKeys, ...liveKeys]) await files.put(k);
});

afterAll(async () => {
  await db.drop();
  await files.remove();
});

describe('crash recovery (SIGKILL mid-run)', () => {
  it('converges after kills at several points, and records the killed runs as interrupted', async () => {
    const env = { DATABASE_URL: db.url, LETHE_STORAGE: `file://${files.root}`, LETHE_BATCH_SIZE: '100', LETHE_DELETES_PER_SECOND: '4000', LETHE_THREADS: '1' };
    expect((await runCli(['migrate'], env)).code).toBe(0);
    const killAt = [150, 900, 1900];
    for (const threshold of killAt) {
      const child = spawnCli(['run', '--json'], env);
      const exit = waitForExit(child);
      await waitFor(
        async () => {
          const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM lethe_ledger`);
          return rows[0]!.n >= threshold;
        },
        30_000,
        `${threshold} ledger rows`,
      );
      child.kill('SIGKILL');
      expect((await exit).signal).toBe('SIGKILL');
    }
    const final = await runCli(['run', '--json'], env);
    expect(final.code, final.stderr).toBe(0);
    expect(JSON.parse(final.stdout)).toMatchObject({ status: 'completed', failed_count: 0 });
    await expectConverged(db.pool, files, expiredKeys, liveKeys);
    const runs = await db.pool.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM lethe_runs GROUP BY status ORDER BY status`);
    expect(runs.rows).toEqual([
      { status: 'completed', n: 1 },
      { status: 'interrupted', n: killAt.length },
    ]);
    // The monthly sum counts every file once, including those erased by the killed runs.
    const sum = await db.pool.query<{ deleted: number }>(
      `SELECT SUM((details->>'deleted_count')::int)::int AS deleted FROM audit_logs WHERE action = 'cleanup_expired_jobs'`,
    );
    expect(sum.rows[0]!.deleted).toBe(EXPIRED);
  });
});
