import type { Queryable } from './db.js';
import type { PurposeSelection } from './expired-rows.js';
import type { JobsTable } from './jobs-table.js';

/**
 * DESIGN invariant 3: a file is erased only when no live row refers to it. Returns the keys of
 * this batch that some row still needs: a row that is not expired, has no policy, or has no
 * `created_at`. One query per batch, served by the index on `file_key`.
 */
export async function keysStillReferenced(
  db: Queryable,
  table: JobsTable,
  keys: readonly string[],
  policies: readonly PurposeSelection[],
  cutoff: string,
): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const { rows } = await db.query<{ k: string }>(
    `SELECT DISTINCT j.${table.fileKey}::text AS k
       FROM ${table.table} j
       LEFT JOIN unnest($2::text[], $3::interval[]) AS p(purpose, retention) ON p.purpose = j.${table.purpose}
      WHERE j.${table.fileKey} = ANY($1::text[])
        AND NOT coalesce(j.${table.createdAt} + p.retention < ${table.toColumnTime('$4::timestamptz')}, false)`,
    [keys, policies.map((p) => p.purpose), policies.map((p) => p.interval), cutoff],
  );
  return new Set(rows.map((r) => r.k));
}
