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
 * and for progress totals. One statement for every purpose (one scalar subquery each, each its own
 * index range scan), not one round trip a purpose (docs/performance.md#start-up).
 */
export async function countExpiredCapped(
  pool: pg.Pool,
  t: JobsTable,
  purposes: readonly PurposeSelection[],
  cutoff: string,
  cap: number,
): Promise<ExpiredCount> {
  const byPurpose: Record<string, number> = {};
  if (purposes.length === 0) return { total: 0, byPurpose, capped: false };
  // $1 cutoff, $2 the cap + 1; then per purpose its name (untyped: it takes the column's type, as
  // the run's read does), its retention and its calendar slack.
  const params: unknown[] = [cutoff, cap + 1];
  const columns = purposes.map((p, i) => {
    const [name, interval, slack] = [params.length + 1, params.length + 2, params.length + 3];
    params.push(p.purpose, p.interval, p.calendar ? '3 days' : '0');
    return `(SELECT count(*)::int FROM (
         SELECT 1 FROM ${t.table} j
          WHERE j.${t.purpose} = $${name}
            AND ${finiteCreatedAtSql(t)}
            AND j.${t.createdAt} < ${t.toColumnTime(`$1::timestamptz - $${interval}::interval + $${slack}::interval`)}
            AND j.${t.createdAt} + $${interval}::interval < ${t.toColumnTime('$1::timestamptz')}
          LIMIT $2) s) AS n${i}`;
  });
  const { rows } = await pool.query<Record<string, number>>(`SELECT ${columns.join(',\n       ')}`, params);
  let total = 0;
  let capped = false;
  purposes.forEach((p, i) => {
    const n = rows[0]?.[`n${i}`] ?? 0;
    if (n > cap) capped = true;
    byPurpose[p.purpose] = Math.min(n, cap);
    total += Math.min(n, cap);
  });
  return { total, byPurpose, capped };
}
