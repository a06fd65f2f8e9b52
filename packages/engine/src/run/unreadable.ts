import type { Queryable } from '../db/pool.js';
import type { JobsTable } from '../db/jobs-table.js';
import type { UnreadableRows } from './summary.js';

const MAX_DISTINCT = 100;

/**
 * Rows no policy can judge: unknown or NULL purposes, and known purposes with a NULL or infinite
 * (`'infinity'`, `'-infinity'`) `created_at`. They are never deleted, only reported. This must not scan the table on every
 * run (DESIGN "Indexes"): distinct purposes come from a skip scan over the (purpose_code,
 * created_at) index, one index probe per distinct value, and each count stops at `cap`.
 */
export async function findUnreadableRows(db: Queryable, t: JobsTable, known: readonly string[], cap: number): Promise<UnreadableRows[]> {
  const distinct = await db.query<{ p: string }>(
    `WITH RECURSIVE p AS (
       (SELECT j.${t.purpose}::text AS v FROM ${t.table} j WHERE j.${t.purpose} IS NOT NULL ORDER BY j.${t.purpose} LIMIT 1)
       UNION ALL
       SELECT (SELECT j.${t.purpose}::text FROM ${t.table} j WHERE j.${t.purpose} > p.v ORDER BY j.${t.purpose} LIMIT 1)
         FROM p WHERE p.v IS NOT NULL)
     SELECT v AS p FROM p WHERE v IS NOT NULL LIMIT ${MAX_DISTINCT}`,
  );
  const out: UnreadableRows[] = [];
  const count = async (where: string, params: unknown[]): Promise<{ count: number; ids: string[] }> => {
    const { rows } = await db.query<{ id: string }>(`SELECT j.${t.id}::text AS id FROM ${t.table} j WHERE ${where} LIMIT ${cap + 1}`, params);
    return { count: rows.length, ids: rows.slice(0, 5).map((r) => r.id) };
  };
  const push = (purpose: string | null, reason: UnreadableRows['reason'], c: { count: number; ids: string[] }): void => {
    if (c.count > 0) out.push({ purpose, reason, count: Math.min(c.count, cap), capped: c.count > cap, sample_ids: c.ids });
  };
  for (const { p } of distinct.rows) {
    if (!known.includes(p)) push(p, 'unknown_purpose', await count(`j.${t.purpose} = $1`, [p]));
  }
  push(null, 'unknown_purpose', await count(`j.${t.purpose} IS NULL`, []));
  for (const p of known) {
    push(p, 'null_created_at', await count(`j.${t.purpose} = $1 AND j.${t.createdAt} IS NULL`, [p]));
    // Two index probes; `NOT isfinite(...)` would read every row of the purpose.
    push(p, 'infinite_created_at', await count(`j.${t.purpose} = $1 AND j.${t.createdAt} IN ('-infinity', 'infinity')`, [p]));
  }
  return out;
}
