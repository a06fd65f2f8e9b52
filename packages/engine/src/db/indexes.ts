import type { Queryable } from './pool.js';

export interface IndexInfo {
  readonly name: string;
  readonly valid: boolean;
  readonly partial: boolean;
  readonly columns: readonly string[];
}

/** Indexes of a table with their columns in order (expression columns appear as null and are skipped). */
export async function listIndexes(db: Queryable, quotedTable: string): Promise<IndexInfo[]> {
  const { rows } = await db.query<{ name: string; valid: boolean; partial: boolean; columns: (string | null)[] }>(
    `SELECT c.relname AS name, i.indisvalid AS valid, i.indpred IS NOT NULL AS partial,
            array(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                  LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                  ORDER BY k.ord) AS columns
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = to_regclass($1)`,
    [quotedTable],
  );
  return rows.map((r) => ({ ...r, columns: r.columns.map((c) => c ?? '') }));
}

/** True when a valid, non-partial index starts with these columns. */
export function hasLeadingIndex(indexes: readonly IndexInfo[], columns: readonly string[]): boolean {
  return indexes.some((ix) => ix.valid && !ix.partial && columns.every((c, i) => ix.columns[i] === c));
}
