import type pg from 'pg';
import { finiteCreatedAtSql, type PurposeSelection } from '../source.js';
import type { JobsTable } from '../../db/jobs-table.js';

export interface ExpiredCount {
  readonly total: number;
  readonly byPurpose: Readonly<Record<string, number>>;
  /** True when some purpose had more than `cap` and counting stopped there. */
  readonly capped: boolean;
}

/**
 * Counts expired rows per purpose over the same index range the run reads, stopping at `cap` per
 * purpose, so the count costs at most `cap` index entries a purpose. Used for the blast-radius guard
 * and for progress totals.
 */
export async function countExpiredCapped(
  pool: pg.Pool,
  t: JobsTable,
  purposes: readonly PurposeSelection[],
  cutoff: string,
  cap: number,
): Promise<ExpiredCount> {
  const byPurpose: Record<string, number> = {};
  let total = 0;
  let capped = false;
  for (const p of purposes) {
    const { rows } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (
         SELECT 1 FROM ${t.table} j
          WHERE j.${t.purpose} = $1
            AND ${finiteCreatedAtSql(t)}
            AND j.${t.createdAt} < ${t.toColumnTime(`$3::timestamptz - $2::interval + $4::interval`)}
            AND j.${t.createdAt} + $2::interval < ${t.toColumnTime('$3::timestamptz')}
          LIMIT $5) s`,
      [p.purpose, p.interval, cutoff, p.calendar ? '3 days' : '0', cap + 1],
    );
    const n = rows[0]?.n ?? 0;
    if (n > cap) capped = true;
    byPurpose[p.purpose] = Math.min(n, cap);
    total += Math.min(n, cap);
  }
  return { total, byPurpose, capped };
}
