import type pg from 'pg';
import { expect } from 'vitest';
import type { TempRoot } from './files.js';

/**
 * The end state every rerun must reach (DESIGN invariants 1 and 5): no unexpired file gone, no
 * expired file left, every removed row with exactly one erased/absent ledger row, every file
 * erased at most once in the ledger.
 */
export async function expectConverged(pool: pg.Pool, files: TempRoot, expiredKeys: readonly string[], liveKeys: readonly string[]): Promise<void> {
  for (const k of liveKeys) expect(await files.exists(k), `live file ${k} must exist`).toBe(true);
  for (const k of expiredKeys) expect(await files.exists(k), `expired file ${k} must be gone`).toBe(false);
  const left = await pool.query<{ file_key: string }>('SELECT file_key FROM jobs WHERE file_key = ANY($1)', [expiredKeys]);
  expect(left.rows, 'no expired row left').toEqual([]);
  const live = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs WHERE file_key = ANY($1)', [liveKeys]);
  expect(live.rows[0]!.n, 'every live row kept').toBe(liveKeys.length);
  const perRow = await pool.query<{ job_id: string; n: number }>(
    `SELECT job_id, count(*)::int AS n FROM lethe_ledger WHERE outcome IN ('erased', 'absent') GROUP BY job_id HAVING count(*) <> 1`,
  );
  expect(perRow.rows, 'exactly one ledger row per removed job row').toEqual([]);
  const ledgered = await pool.query<{ n: number }>(
    `SELECT count(DISTINCT file_key)::int AS n FROM lethe_ledger WHERE outcome IN ('erased', 'absent') AND file_key = ANY($1)`,
    [expiredKeys],
  );
  expect(ledgered.rows[0]!.n, 'every expired file has its ledger row').toBe(expiredKeys.length);
  const twice = await pool.query(`SELECT file_key FROM lethe_ledger WHERE outcome = 'erased' GROUP BY file_key HAVING count(*) > 1`);
  expect(twice.rows, 'no file erased twice').toEqual([]);
}
