import { ConfigError, ErrorCodes, SchemaError } from '../errors.js';
import type { Queryable } from './pool.js';
import { quoteIdent } from './identifiers.js';

/** Names of the platform's `jobs` table and its columns (configurable, defaults as the runbook). */
export interface JobsTableNames {
  readonly table: string;
  readonly id: string;
  readonly fileKey: string;
  readonly purpose: string;
  readonly createdAt: string;
}

export const DEFAULT_JOBS_TABLE: JobsTableNames = Object.freeze({
  table: 'jobs',
  id: 'id',
  fileKey: 'file_key',
  purpose: 'purpose_code',
  createdAt: 'created_at',
});

/** The table as found in the database, with quoted identifiers ready for SQL. */
export interface JobsTable {
  readonly names: JobsTableNames;
  readonly table: string;
  readonly id: string;
  readonly fileKey: string;
  readonly purpose: string;
  readonly createdAt: string;
  /** The id column's SQL type, e.g. `text`, `uuid`, `bigint`: parameters are cast to it. */
  readonly idType: string;
  /** `timestamp` columns hold naive UTC and are compared with a UTC-converted cutoff. */
  readonly naiveTimestamps: boolean;
  /** Converts a timestamptz SQL expression to the column's type. */
  toColumnTime(expr: string): string;
}

const ID_TYPES = new Set(['text', 'character varying', 'uuid', 'bigint', 'integer', 'smallint']);
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/;

export function validateJobsTableNames(names: JobsTableNames): JobsTableNames {
  for (const [field, value] of Object.entries(names)) {
    if (typeof value !== 'string' || !NAME_RE.test(value) || (field !== 'table' && value.includes('.'))) {
      throw new ConfigError(
        `jobs.${field}: expected a SQL identifier like "file_key"${field === 'table' ? ' or "schema.jobs"' : ''}, got ${JSON.stringify(value)}`,
      );
    }
  }
  return Object.freeze({ ...names });
}

/** Looks the table up and checks the columns Lethe needs. */
export async function inspectJobsTable(db: Queryable, names: JobsTableNames): Promise<JobsTable> {
  const { rows } = await db.query<{ attname: string; type: string }>(
    `SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_attribute a
      WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
    [quoteIdent(names.table)],
  );
  if (rows.length === 0) {
    throw new SchemaError(`jobs table ${JSON.stringify(names.table)} was not found in the database (set jobs.table or create it)`, ErrorCodes.SCHEMA);
  }
  const types = new Map(rows.map((r) => [r.attname, r.type]));
  const need = (field: keyof JobsTableNames): string => {
    const t = types.get(names[field]);
    if (t === undefined) throw new SchemaError(`jobs table ${names.table}: column ${JSON.stringify(names[field])} (jobs.${field}) is missing`);
    return t;
  };
  const idType = need('id').replace(/\(.*\)$/, '');
  if (!ID_TYPES.has(idType)) throw new SchemaError(`jobs table ${names.table}: id column must be text, uuid or an integer, got ${idType}`);
  need('fileKey');
  need('purpose');
  const createdType = need('createdAt');
  const naive = createdType.startsWith('timestamp without time zone');
  if (!naive && !createdType.startsWith('timestamp with time zone')) {
    throw new SchemaError(`jobs table ${names.table}: ${names.createdAt} must be timestamp or timestamptz, got ${createdType}`);
  }
  return {
    names,
    table: quoteIdent(names.table),
    id: quoteIdent(names.id),
    fileKey: quoteIdent(names.fileKey),
    purpose: quoteIdent(names.purpose),
    createdAt: quoteIdent(names.createdAt),
    idType: idType === 'character varying' ? 'text' : idType,
    naiveTimestamps: naive,
    // DESIGN invariant 2: convert the cutoff, never the column, so the index still serves.
    toColumnTime: (expr) => (naive ? `((${expr})::timestamptz AT TIME ZONE 'UTC')` : `(${expr})::timestamptz`),
  };
}
