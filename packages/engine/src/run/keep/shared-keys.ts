import type { Queryable } from '../../db/pool.js';
import type { PurposeSelection } from '../source.js';
import { HELD_KEYS_SQL } from '../../db/tables/holds.js';
import type { JobsTable } from '../../db/jobs-table.js';
import { policyArrays } from '../../db/arrays.js';

export interface KeptKeys {
  /** Keys some live row still needs (DESIGN invariant 3). */
  readonly shared: ReadonlySet<string>;
  /** Keys under an active legal hold. */
  readonly held: ReadonlySet<string>;
}

/**
 * The keys of a batch that must stay (dry runs and operations; a real batch re-checks under lock
 * in ../recheck.ts): a key still referenced by a row that is not expired (or has
 * no policy, or no `created_at`), and a key under an active legal hold. One round trip per batch,
 * served by the indexes on `jobs.file_key` and on active holds.
 */
export async function keysToKeep(
  db: Queryable,
  table: JobsTable,
  keys: readonly string[],
  policies: readonly PurposeSelection[],
  cutoff: string,
): Promise<KeptKeys> {
  if (keys.length === 0) return { shared: new Set(), held: new Set() };
  const { rows } = await db.query<{ k: string; held: boolean }>(
    `SELECT DISTINCT j.${table.fileKey}::text AS k, false AS held
       FROM ${table.table} j
       LEFT JOIN unnest($2::text[], $3::interval[]) AS p(purpose, retention) ON p.purpose = j.${table.purpose}
      WHERE j.${table.fileKey} = ANY($1::text[])
        AND NOT coalesce(isfinite(j.${table.createdAt}) AND j.${table.createdAt} + p.retention < ${table.toColumnTime('$4::timestamptz')}, false)
     UNION ALL
     SELECT k, true FROM (${HELD_KEYS_SQL}) h`,
    [keys, ...policyArrays(policies), cutoff],
  );
  const shared = new Set<string>();
  const held = new Set<string>();
  for (const r of rows) (r.held ? held : shared).add(r.k);
  return { shared, held };
}

/** Keys that are rightly still present: shared with a live row, or held. */
export async function keysStillReferenced(
  db: Queryable,
  table: JobsTable,
  keys: readonly string[],
  policies: readonly PurposeSelection[],
  cutoff: string,
): Promise<Set<string>> {
  const { shared, held } = await keysToKeep(db, table, keys, policies, cutoff);
  return new Set([...shared, ...held]);
}
