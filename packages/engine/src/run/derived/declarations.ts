import { ConfigError } from '../../errors.js';
import { checkKey } from '../../storage/keys.js';
import { isReservedKey } from '../../storage/trash-keys.js';

/**
 * Derived data (docs/rights.md#derived-data): what else holds a job's personal data besides its
 * file and its row, declared so that it is deleted with them and so that `lethe doctor` can tell
 * what no declaration covers.
 *
 * - child table: rows that refer to the job by its id (or its file key); deleted in the batch's
 *   transaction, before the job row.
 * - derived object: a key template expanded from the job's row (`{file_key}.ocr.json`,
 *   `thumbs/{id}.png`, `blobs/{blob_sha}`); a template ending in `/` is a prefix, deleted whole.
 *   An object other rows still expand to (a dedup blob) is kept until the last of them goes.
 * - keep: a table or prefix that looks like job data but is kept on purpose, with the reason.
 */
export interface DerivedTableInput {
  readonly table: string;
  readonly column: string;
  /** What `column` holds: the job's id (default) or its file key. */
  readonly refersTo?: 'id' | 'file_key';
}

export interface DerivedObjectInput {
  readonly template: string;
  /** Another storage URL for this object (default: the run's storage). */
  readonly storage?: string;
}

export type DerivedKeepInput = { readonly table: string; readonly reason: string } | { readonly prefix: string; readonly reason: string };

export interface DerivedOptions {
  readonly tables?: readonly DerivedTableInput[];
  readonly objects?: readonly DerivedObjectInput[];
  readonly keep?: readonly DerivedKeepInput[];
}

/** A template's literal text and placeholders, in order: `a/{id}.x` is ['a/', {id}, '.x']. */
export type TemplatePart = string | { readonly column: string };

export interface DerivedTemplate {
  readonly template: string;
  readonly parts: readonly TemplatePart[];
  /** Columns of the jobs row the template reads; `id` and `file_key` mean the configured columns. */
  readonly columns: readonly string[];
  /** Ends in `/`: every object under the expanded prefix goes. */
  readonly prefix: boolean;
  /** No `{id}`: several jobs may expand to the same key, so it is reference-counted. */
  readonly shareable: boolean;
  readonly storage: string | null;
}

export interface DerivedTable {
  readonly table: string;
  readonly column: string;
  readonly refersTo: 'id' | 'file_key';
}

export interface DerivedDeclarations {
  readonly tables: readonly DerivedTable[];
  readonly objects: readonly DerivedTemplate[];
  readonly keepTables: ReadonlyMap<string, string>;
  readonly keepPrefixes: ReadonlyMap<string, string>;
}

export const NO_DERIVED: DerivedDeclarations = Object.freeze({ tables: [], objects: [], keepTables: new Map(), keepPrefixes: new Map() });

const TABLE_RE = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/;
const COLUMN_RE = /^[A-Za-z_][A-Za-z0-9_$]*$/;
const PLACEHOLDER_RE = /\{([^{}]*)\}/g;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function list(field: string, value: unknown): readonly unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ConfigError(`${field}: expected a list, got ${JSON.stringify(value)}`);
  return value;
}

function onlyFields(field: string, o: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new ConfigError(`${field}.${k}: unknown field; expected one of ${allowed.join(', ')}`);
}

function text(field: string, v: unknown, re?: RegExp, like?: string): string {
  if (typeof v !== 'string' || v === '' || (re && !re.test(v)))
    throw new ConfigError(`${field}: expected ${like ?? 'a non-empty string'}, got ${JSON.stringify(v)}`);
  return v;
}

/** Parses a template and checks that, whatever the values, it cannot name a place outside the root. */
export function parseTemplate(field: string, template: string, storage: string | null): DerivedTemplate {
  const parts: TemplatePart[] = [];
  const columns: string[] = [];
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER_RE)) {
    if (m.index > last) parts.push(template.slice(last, m.index));
    const column = m[1]!;
    if (!COLUMN_RE.test(column))
      throw new ConfigError(
        `${field}: placeholder {${column}} must name a column of the jobs row like {id}, {file_key} or {blob_sha}, in ${JSON.stringify(template)}`,
      );
    parts.push({ column });
    if (!columns.includes(column)) columns.push(column);
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  const literal = parts.filter((p): p is string => typeof p === 'string').join('');
  if (literal.includes('{') || literal.includes('}')) throw new ConfigError(`${field}: unbalanced "{" or "}" in ${JSON.stringify(template)}`);
  // A template with no placeholder names the same object for every job: deleting it with the first would be wrong.
  if (columns.length === 0) throw new ConfigError(`${field}: must hold at least one placeholder such as {file_key} or {id}, got ${JSON.stringify(template)}`);
  const prefix = template.endsWith('/');
  const sample = expandWith(parts, () => 'x');
  const problem = checkKey(prefix ? sample.slice(0, -1) : sample);
  if (problem) throw new ConfigError(`${field}: ${JSON.stringify(template)} is not a safe relative key (${problem.message.replace(/^file_key: /, '')})`);
  if (isReservedKey(sample)) throw new ConfigError(`${field}: ${JSON.stringify(template)} names Lethe's own .lethe/ area`);
  return { template, parts, columns, prefix, shareable: !columns.includes('id'), storage };
}

export function expandWith(parts: readonly TemplatePart[], value: (column: string) => string): string {
  let out = '';
  for (const p of parts) out += typeof p === 'string' ? p : value(p.column);
  return out;
}

function resolveTable(field: string, v: unknown): DerivedTable {
  if (!isObject(v)) throw new ConfigError(`${field}: expected {"table": "...", "column": "..."}, got ${JSON.stringify(v)}`);
  onlyFields(field, v, ['table', 'column', 'refersTo']);
  const refersTo = v.refersTo ?? 'id';
  if (refersTo !== 'id' && refersTo !== 'file_key') throw new ConfigError(`${field}.refersTo: expected "id" or "file_key", got ${JSON.stringify(v.refersTo)}`);
  return {
    table: text(`${field}.table`, v.table, TABLE_RE, 'a table name like "ocr_pages" or "schema.ocr_pages"'),
    column: text(`${field}.column`, v.column, COLUMN_RE, 'a column name like "job_id"'),
    refersTo,
  };
}

function resolveObject(field: string, v: unknown, parseUrl: (url: string, field: string) => void): DerivedTemplate {
  if (!isObject(v)) throw new ConfigError(`${field}: expected {"template": "{file_key}.ocr.json"}, got ${JSON.stringify(v)}`);
  onlyFields(field, v, ['template', 'storage']);
  const template = text(`${field}.template`, v.template, undefined, 'a key template like "{file_key}.ocr.json" or "derived/{id}/"');
  let storage: string | null = null;
  if (v.storage !== undefined) {
    storage = text(`${field}.storage`, v.storage, undefined, 'a storage URL like s3://bucket/prefix');
    parseUrl(storage, `${field}.storage`);
  }
  return parseTemplate(`${field}.template`, template, storage);
}

/** Validated once (options.ts); `parseUrl` checks a storage URL and throws a ConfigError naming the field. */
export function resolveDerived(input: DerivedOptions | undefined, parseUrl: (url: string, field: string) => void): DerivedDeclarations {
  if (input === undefined) return NO_DERIVED;
  if (!isObject(input)) throw new ConfigError(`derived: expected an object with tables, objects and keep, got ${JSON.stringify(input)}`);
  onlyFields('derived', input, ['tables', 'objects', 'keep']);
  const tables = list('derived.tables', input.tables).map((t, i) => resolveTable(`derived.tables[${i}]`, t));
  const objects = list('derived.objects', input.objects).map((o, i) => resolveObject(`derived.objects[${i}]`, o, parseUrl));
  const keepTables = new Map<string, string>();
  const keepPrefixes = new Map<string, string>();
  list('derived.keep', input.keep).forEach((k, i) => {
    const field = `derived.keep[${i}]`;
    if (!isObject(k))
      throw new ConfigError(`${field}: expected {"table": "...", "reason": "..."} or {"prefix": "...", "reason": "..."}, got ${JSON.stringify(k)}`);
    onlyFields(field, k, ['table', 'prefix', 'reason']);
    const reason = text(`${field}.reason`, k.reason, undefined, 'a reason why this data is kept (it is shown by lethe doctor)');
    if ((k.table === undefined) === (k.prefix === undefined)) throw new ConfigError(`${field}: expected exactly one of "table" or "prefix"`);
    if (k.table !== undefined) keepTables.set(text(`${field}.table`, k.table, TABLE_RE, 'a table name like "invoices"'), reason);
    else {
      const prefix = text(`${field}.prefix`, k.prefix, undefined, 'a storage prefix ending in "/" like "exports/"');
      if (!prefix.endsWith('/') || checkKey(prefix.slice(0, -1)))
        throw new ConfigError(`${field}.prefix: expected a safe relative prefix ending in "/" like "exports/", got ${JSON.stringify(prefix)}`);
      keepPrefixes.set(prefix, reason);
    }
  });
  return Object.freeze({ tables, objects, keepTables, keepPrefixes });
}

export const hasDerived = (d: DerivedDeclarations): boolean => d.tables.length > 0 || d.objects.length > 0;
