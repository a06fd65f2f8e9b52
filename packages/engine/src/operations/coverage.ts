import type { Queryable } from '../db/pool.js';
import { quoteIdent } from '../db/identifiers.js';
import type { JobsTableNames } from '../db/jobs-table.js';
import type { StoragePort } from '../ports.js';
import type { LedgerKeyFn } from '../policy/ledger-keys.js';
import { textArray } from '../db/arrays.js';
import type { DerivedDeclarations, DerivedTemplate } from '../run/derived/declarations.js';
import { isReservedKey } from '../storage/trash-keys.js';

/**
 * Coverage of derived data (docs/rights.md#derived-data): what holds a job's data that no
 * declaration covers. Meta's DELF found thousands of omissions by asking every store to declare
 * how it is deleted; this asks the database and the storage what they hold.
 *
 * - tables: a foreign key to the jobs table, or a column named like its id (`job_id`) or its file
 *   key (`file_key`), in a table that is neither declared (`derived.tables`) nor kept
 *   (`derived.keep` with a reason). Lethe's own tables are not asked.
 * - prefixes: objects (a bounded listing) that are no row's file, match no template and are under
 *   no kept prefix, grouped by their first path segment. In a prefix that also holds source files
 *   they are orphans (`lethe reconcile`), a warning; elsewhere nothing explains them, a failure.
 */
export interface TableFinding {
  readonly table: string;
  readonly column: string;
  readonly found: 'foreign_key' | 'id_column' | 'file_key_column';
  readonly status: 'covered' | 'kept' | 'uncovered';
  readonly reason?: string;
}

export interface PrefixFinding {
  readonly prefix: string;
  readonly objects: number;
  /** A few of the unexplained keys, for the operator to look at. */
  readonly sample: readonly string[];
  readonly status: 'kept' | 'orphans' | 'uncovered';
  readonly reason?: string;
}

export interface CoverageReport {
  readonly tables: readonly TableFinding[];
  readonly prefixes: readonly PrefixFinding[];
  readonly objectsScanned: number;
  /** The listing stopped at the cap: prefixes beyond it were not seen. */
  readonly truncated: boolean;
  /** Findings that fail `lethe doctor` (uncovered tables and prefixes). */
  readonly uncovered: number;
}

export const DEFAULT_COVERAGE_OBJECTS = 10_000;

/** Tables with a foreign key to jobs or a column named like its id or file key, each judged against the declarations. */
export async function tableCoverage(db: Queryable, names: JobsTableNames, d: DerivedDeclarations): Promise<TableFinding[]> {
  const singular = names.table.replace(/^.*\./, '').replace(/s$/, '');
  const idNames = [...new Set([`${singular}_${names.id}`, `${singular}_id`, 'job_id'])];
  const { rows } = await db.query<{ oid: number; tbl: string; col: string; found: TableFinding['found'] }>(
    `WITH jobs AS (SELECT to_regclass($1)::oid AS oid)
     SELECT DISTINCT ON (c.oid, a.attname) c.oid::int AS oid, format('%s.%s', n.nspname, c.relname) AS tbl, a.attname AS col,
            CASE WHEN fk.conrelid IS NOT NULL THEN 'foreign_key' WHEN a.attname = ANY($2::text[]) THEN 'id_column' ELSE 'file_key_column' END AS found
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       LEFT JOIN pg_constraint fk ON fk.contype = 'f' AND fk.conrelid = c.oid AND fk.confrelid = (SELECT oid FROM jobs) AND a.attnum = ANY(fk.conkey)
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.oid <> (SELECT oid FROM jobs)
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
        AND c.relname NOT LIKE 'lethe\\_%' AND c.relname <> 'audit_logs'
        AND (fk.conrelid IS NOT NULL OR a.attname = ANY($2::text[]) OR a.attname = $3)
      ORDER BY c.oid, a.attname, (fk.conrelid IS NULL)`,
    [quoteIdent(names.table), idNames, names.fileKey],
  );
  const declared = await oidsOf(
    db,
    d.tables.map((t) => t.table),
  );
  const kept = await oidsOf(db, [...d.keepTables.keys()]);
  return rows.map((r): TableFinding => {
    const base = { table: r.tbl, column: r.col, found: r.found };
    const k = kept.get(r.oid);
    if (declared.has(r.oid)) return { ...base, status: 'covered' };
    if (k !== undefined) return { ...base, status: 'kept', reason: d.keepTables.get(k)! };
    return { ...base, status: 'uncovered' };
  });
}

/** Declared names -> the oid they resolve to (unknown names resolve to nothing). */
async function oidsOf(db: Queryable, tables: readonly string[]): Promise<Map<number, string>> {
  if (tables.length === 0) return new Map();
  const { rows } = await db.query<{ oid: number | null; name: string }>(
    `SELECT to_regclass(t)::oid::int AS oid, n AS name FROM unnest($1::text[], $2::text[]) AS u(t, n)`,
    [tables.map(quoteIdent), tables],
  );
  return new Map(rows.filter((r) => r.oid !== null).map((r) => [r.oid!, r.name]));
}

/** A template as a pattern over whole keys: `{file_key}` any key, other placeholders one segment. */
export function templatePattern(t: DerivedTemplate): RegExp {
  const body = t.parts.map((p) => (typeof p === 'string' ? p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : p.column === 'file_key' ? '.+' : '[^/]+')).join('');
  return new RegExp(`^${body}${t.prefix ? '.+' : ''}$`);
}

const prefixOf = (key: string): string => (key.includes('/') ? `${key.slice(0, key.indexOf('/'))}/` : '(top level)');

/** Lists up to `maxObjects` objects and groups those nothing explains by their first path segment. */
export async function storageCoverage(
  db: Queryable,
  names: JobsTableNames,
  storage: StoragePort,
  d: DerivedDeclarations,
  maxObjects = DEFAULT_COVERAGE_OBJECTS,
  keyFor: LedgerKeyFn = (k) => k,
): Promise<{ prefixes: PrefixFinding[]; objectsScanned: number; truncated: boolean }> {
  const patterns = d.objects.filter((o) => o.storage === null).map(templatePattern);
  const keepPrefixes = [...d.keepPrefixes];
  const unexplained = new Map<string, string[]>();
  const sourcePrefixes = new Set<string>();
  let scanned = 0;
  let truncated = false;
  let chunk: string[] = [];
  const flush = async (): Promise<void> => {
    const { rows } = await db.query<{ k: string }>(
      `SELECT DISTINCT ${quoteIdent(names.fileKey)}::text AS k FROM ${quoteIdent(names.table)} WHERE ${quoteIdent(names.fileKey)} = ANY($1::text[])`,
      [textArray(chunk)],
    );
    const sources = new Set(rows.map((r) => r.k));
    // A file the ledger knows (erased and back, failed, or whose row the platform removed) was a
    // source file: an orphan for `lethe reconcile`, not derived data (exact keys: the ledger's index).
    const rest = chunk.filter((k) => !sources.has(k) && !patterns.some((p) => p.test(k)));
    if (rest.length > 0) {
      const known = await db.query<{ k: string }>(`SELECT DISTINCT file_key AS k FROM lethe_ledger WHERE file_key = ANY($1::text[])`, [
        textArray(rest.map(keyFor)),
      ]);
      const knownKeys = new Set(known.rows.map((r) => r.k));
      for (const k of rest) if (knownKeys.has(keyFor(k))) sources.add(k);
    }
    for (const key of chunk) {
      if (sources.has(key)) {
        sourcePrefixes.add(prefixOf(key));
        continue;
      }
      if (patterns.some((p) => p.test(key))) continue;
      const list = unexplained.get(prefixOf(key));
      if (list) list.push(key);
      else unexplained.set(prefixOf(key), [key]);
    }
    chunk = [];
  };
  for await (const o of storage.list()) {
    if (scanned >= maxObjects) {
      truncated = true;
      break;
    }
    scanned++;
    if (isReservedKey(o.key)) continue;
    const kept = keepPrefixes.find(([p]) => o.key.startsWith(p));
    if (kept) {
      const list = unexplained.get(`keep:${kept[0]}`);
      if (list) list.push(o.key);
      else unexplained.set(`keep:${kept[0]}`, [o.key]);
      continue;
    }
    chunk.push(o.key);
    if (chunk.length >= 1000) await flush();
  }
  if (chunk.length > 0) await flush();
  const prefixes = [...unexplained].map(([prefix, keys]): PrefixFinding => {
    const sample = keys.slice(0, 5);
    if (prefix.startsWith('keep:'))
      return { prefix: prefix.slice(5), objects: keys.length, sample, status: 'kept', reason: d.keepPrefixes.get(prefix.slice(5))! };
    return { prefix, objects: keys.length, sample, status: sourcePrefixes.has(prefix) ? 'orphans' : 'uncovered' };
  });
  return { prefixes, objectsScanned: scanned, truncated };
}

export async function checkCoverage(
  db: Queryable,
  names: JobsTableNames,
  storage: StoragePort | null,
  d: DerivedDeclarations,
  maxObjects = DEFAULT_COVERAGE_OBJECTS,
  keyFor: LedgerKeyFn = (k) => k,
): Promise<CoverageReport> {
  const tables = await tableCoverage(db, names, d);
  const s = storage ? await storageCoverage(db, names, storage, d, maxObjects, keyFor) : { prefixes: [], objectsScanned: 0, truncated: false };
  const uncovered = tables.filter((t) => t.status === 'uncovered').length + s.prefixes.filter((p) => p.status === 'uncovered').length;
  return { tables, ...s, uncovered };
}

/** One line for logs and doctor: what is not covered, and how to cover it. */
export function describeUncovered(r: CoverageReport): string {
  const parts = [
    ...r.tables.filter((t) => t.status === 'uncovered').map((t) => `table ${t.table} (column ${t.column}: ${t.found.replace(/_/g, ' ')})`),
    ...r.prefixes.filter((p) => p.status === 'uncovered').map((p) => `prefix ${p.prefix} (${p.objects} objects no template explains, e.g. ${p.sample[0]})`),
  ];
  return `${parts.join('; ')}: declare each in derived.tables / derived.objects, or in derived.keep with a reason (docs/rights.md#derived-data)`;
}
