import type { Queryable } from '../../db/pool.js';
import { quoteIdent } from '../../db/identifiers.js';
import { SchemaError } from '../../errors.js';
import type { ExpiredRow } from '../../ports.js';
import { textArray } from '../../db/arrays.js';
import type { DerivedTable } from './declarations.js';

/**
 * Child rows (docs/rights.md#derived-data): rows of declared tables that refer to a job by its id
 * or its file key. Deleted in the batch's transaction right before the outcome statement removes
 * the job rows, so a foreign key to `jobs` (even without ON DELETE CASCADE) never blocks the job's
 * delete, and a rollback keeps both.
 */
export interface ChildTable extends DerivedTable {
  /** The column's SQL type: parameters are cast to it, so its index serves the delete. */
  readonly type: string;
}

export interface RowsEvidence {
  readonly jobId: string;
  readonly table: string;
  readonly count: number;
}

/** Looks every declared table and column up, once per run: a typo fails the run before its first delete. */
export async function inspectChildTables(db: Queryable, tables: readonly DerivedTable[]): Promise<ChildTable[]> {
  const out: ChildTable[] = [];
  for (const t of tables) {
    const { rows } = await db.query<{ type: string }>(
      `SELECT format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a
        WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
      [quoteIdent(t.table), t.column],
    );
    if (rows.length === 0)
      throw new SchemaError(
        `derived.tables: table ${JSON.stringify(t.table)} with column ${JSON.stringify(t.column)} was not found in the database (fix the declaration or create it)`,
      );
    out.push({ ...t, type: rows[0]!.type });
  }
  return out;
}

/** Deletes the child rows of these jobs (rows whose job row goes in this transaction); counts per job and table. */
export async function deleteChildRows(db: Queryable, tables: readonly ChildTable[], jobs: readonly ExpiredRow[]): Promise<RowsEvidence[]> {
  if (jobs.length === 0) return [];
  const evidence: RowsEvidence[] = [];
  const jobOfKey = new Map<string, string>();
  for (const j of jobs) if (!jobOfKey.has(j.fileKey)) jobOfKey.set(j.fileKey, j.id);
  for (const t of tables) {
    const values = t.refersTo === 'id' ? jobs.map((j) => j.id) : [...jobOfKey.keys()];
    const col = quoteIdent(t.column);
    const { rows } = await db.query<{ v: string; n: number }>(
      `WITH d AS (DELETE FROM ${quoteIdent(t.table)} c WHERE c.${col} = ANY($1::text[]::${t.type}[]) RETURNING c.${col})
       SELECT ${col}::text AS v, count(*)::int AS n FROM d GROUP BY 1`,
      [textArray(values)],
    );
    // Rows that refer to a file key are counted under the first job of that key.
    for (const r of rows) evidence.push({ jobId: t.refersTo === 'id' ? r.v : (jobOfKey.get(r.v) ?? r.v), table: t.table, count: r.n });
  }
  return evidence;
}
