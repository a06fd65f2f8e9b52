import type { Queryable } from '../db/pool.js';
import type { JobsTable } from '../db/jobs-table.js';
import type { UnreadableRows } from './summary.js';

const MAX_DISTINCT = 100;

type Check = { g: number; ord: number; purpose: string | null; n: number; ids: string[] | null };

/**
 * Rows no policy can judge: unknown or NULL purposes, and known purposes with a NULL or infinite
 * (`'infinity'`, `'-infinity'`) `created_at`. They are never deleted, only reported. This must not scan the table on every
 * run (DESIGN "Indexes"): distinct purposes come from a skip scan over the (purpose_code,
 * created_at) index, one index probe per distinct value, and each count stops at `cap`.
 * One statement for all of it (docs/performance.md#start-up): each check is its own subquery
 * and index probe, as when they were one round trip each.
 */
export async function findUnreadableRows(db: Queryable, t: JobsTable, known: readonly string[], cap: number): Promise<UnreadableRows[]> {
  // Up to `cap` + 1 ids of the rows `where` matches: their count and the first five.
  const sample = (where: string): string =>
    `SELECT count(*)::int AS n, (array_agg(s.id))[1:5] AS ids FROM (SELECT j.${t.id}::text AS id FROM ${t.table} j WHERE ${where} LIMIT $2) s`;
  // $1 the known purposes as text, $2 the cap + 1, then each known purpose (untyped: it takes the
  // column's type, as the run's read does). g orders the report: unknown purposes (in index order),
  // NULL purposes, then per known purpose its NULL and its infinite created_at.
  const params: unknown[] = [known, cap + 1, ...known];
  const perKnown = known.flatMap((_, i) => [
    `SELECT 2 AS g, ${2 * i} AS ord, NULL::text AS purpose, c.n, c.ids FROM (${sample(`j.${t.purpose} = $${i + 3} AND j.${t.createdAt} IS NULL`)}) c`,
    // Two index probes; `NOT isfinite(...)` would read every row of the purpose.
    `SELECT 2, ${2 * i + 1}, NULL, c.n, c.ids FROM (${sample(`j.${t.purpose} = $${i + 3} AND j.${t.createdAt} IN ('-infinity', 'infinity')`)}) c`,
  ]);
  const { rows } = await db.query<Check>(
    `WITH RECURSIVE p AS (
       (SELECT j.${t.purpose} AS v, 1 AS ord FROM ${t.table} j WHERE j.${t.purpose} IS NOT NULL ORDER BY j.${t.purpose} LIMIT 1)
       UNION ALL
       SELECT (SELECT j.${t.purpose} FROM ${t.table} j WHERE j.${t.purpose} > p.v ORDER BY j.${t.purpose} LIMIT 1), p.ord + 1
         FROM p WHERE p.v IS NOT NULL),
     d AS (SELECT v, ord FROM p WHERE v IS NOT NULL LIMIT ${MAX_DISTINCT})
     SELECT 0 AS g, d.ord, d.v::text AS purpose, c.n, c.ids
       FROM d CROSS JOIN LATERAL (${sample(`j.${t.purpose} = d.v`)}) c
      WHERE d.v::text <> ALL($1::text[])
     UNION ALL
     SELECT 1, 0, NULL, c.n, c.ids FROM (${sample(`j.${t.purpose} IS NULL`)}) c
     ${perKnown.map((q) => `UNION ALL\n     ${q}`).join('\n     ')}
     ORDER BY 1, 2`,
    params,
  );
  const out: UnreadableRows[] = [];
  for (const r of rows) {
    if (r.n === 0) continue;
    const purpose = r.g === 2 ? known[Math.floor(r.ord / 2)]! : r.purpose;
    const reason: UnreadableRows['reason'] = r.g < 2 ? 'unknown_purpose' : r.ord % 2 === 0 ? 'null_created_at' : 'infinite_created_at';
    out.push({ purpose, reason, count: Math.min(r.n, cap), capped: r.n > cap, sample_ids: r.ids ?? [] });
  }
  return out;
}
