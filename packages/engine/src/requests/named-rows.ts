import type pg from 'pg';
import { SchemaError } from '../errors.js';
import type { Queryable } from '../db/pool.js';
import type { PurposeSelection } from '../run/source.js';
import type { JobsTable } from '../db/jobs-table.js';
import type { ExpiredRow } from '../ports.js';
import { quoteIdent } from '../db/identifiers.js';
import { streamCursor } from '../db/cursor.js';
import type { ErasureTarget } from './request.js';
import { policyArrays } from '../db/arrays.js';

/**
 * Which `jobs` rows a request names, as one SQL condition on `j` with the target's values in
 * parameter `$n`: the source streams them, and the re-check under lock evaluates the same
 * condition on the locked rows (a row re-pointed to another principal meanwhile is no longer named).
 * A cascade to derived data (docs/rights.md#derived-data, a later task) adds its own condition here.
 */
export function namedSql(t: JobsTable, target: Pick<ErasureTarget, 'kind'>, principal: string | null, n: number): string {
  if (target.kind === 'job') return `j.${t.id} = ANY($${n}::text[]::${t.idType}[])`;
  if (target.kind === 'key') return `j.${t.fileKey} = ANY($${n}::text[])`;
  if (principal === null) throw new SchemaError('principal: no data-principal column is configured for jobs (erasure.principalColumn)');
  return `j.${quoteIdent(principal)}::text = ANY($${n}::text[])`;
}

/** Checks the principal column exists (a typo must fail loudly, not match nothing). */
export async function checkPrincipalColumn(db: Queryable, t: JobsTable, column: string): Promise<void> {
  const { rows } = await db.query(`SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND attnum > 0 AND NOT attisdropped`, [
    t.table,
    column,
  ]);
  if (rows.length === 0)
    throw new SchemaError(`jobs table ${t.names.table}: the data-principal column ${JSON.stringify(column)} (erasure.principalColumn) is missing`);
}

/** Row shape of the source: id, key, purpose, created ms, expires ms (NaN without a policy). */
type Raw = [string, string, string | null, number | null, number | null];

/** The named rows with their policy's expiry (for the ledger), $1 purposes, $2 intervals, $3 values. */
export function namedRowsSql(t: JobsTable, target: ErasureTarget, principal: string | null): string {
  return `SELECT j.${t.id}::text, coalesce(j.${t.fileKey}::text, ''), j.${t.purpose}::text,
       (extract(epoch FROM j.${t.createdAt}) * 1000)::float8,
       (extract(epoch FROM j.${t.createdAt} + p.retention) * 1000)::float8
  FROM ${t.table} j LEFT JOIN unnest($1::text[], $2::interval[]) AS p(purpose, retention) ON p.purpose = j.${t.purpose}
 WHERE ${namedSql(t, target, principal, 3)}
 ORDER BY j.${t.fileKey}, j.${t.id}`;
}

export interface NamedRowsOptions {
  readonly table: JobsTable;
  readonly target: ErasureTarget;
  readonly principal: string | null;
  readonly policies: readonly PurposeSelection[];
  readonly batchSize: number;
  readonly signal?: AbortSignal;
}

export function toRow(r: Raw): ExpiredRow {
  return { id: r[0], fileKey: r[1], purpose: r[2] ?? '', createdAtMs: r[3] ?? Number.NaN, expiresAtMs: r[4] ?? Number.NaN };
}

/** Streams the named rows in batches (ordered by key: rows sharing a key travel together). */
export async function* readNamedRows(pool: pg.Pool, o: NamedRowsOptions): AsyncGenerator<ExpiredRow[]> {
  const values = [...policyArrays(o.policies), [...o.target.values]];
  for await (const raw of streamCursor<Raw>(pool, namedRowsSql(o.table, o.target, o.principal), values, {
    batchSize: o.batchSize,
    ...(o.signal ? { signal: o.signal } : {}),
  })) {
    yield raw.map(toRow);
  }
}
