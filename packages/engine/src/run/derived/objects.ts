import type { Queryable } from '../../db/pool.js';
import { quoteIdent } from '../../db/identifiers.js';
import type { JobsTable } from '../../db/jobs-table.js';
import { ErrorCodes } from '../../errors.js';
import type { ExpiredRow, KeyOutcome, StoragePort } from '../../ports.js';
import { checkKey } from '../../storage/keys.js';
import { isReservedKey } from '../../storage/trash-keys.js';
import { textArray } from '../../db/arrays.js';
import { expandWith, type DerivedTemplate } from './declarations.js';

/**
 * Derived objects of a batch's rows (docs/rights.md#derived-data): templates expanded from the
 * rows as re-read under lock, shared objects kept, prefixes listed, then one `deleteMany` per
 * storage. Runs after the re-check decided which keys go and before the source storage call, so a
 * crash in between leaves source files whose derived objects are gone: the rerun finds those
 * absent and erases the source then.
 */
export interface ObjectStore {
  readonly name: string;
  readonly storage: StoragePort;
}

/** One template of one row, expanded: a key (or prefix) on a store. */
export interface PlannedObject {
  readonly row: ExpiredRow;
  readonly template: DerivedTemplate;
  readonly store: ObjectStore;
  readonly key: string;
}

export type ObjectOutcome = 'erased' | 'absent' | 'kept_shared' | 'failed' | 'refused';

export interface ObjectEvidence {
  readonly jobId: string;
  readonly template: string;
  readonly store: string;
  readonly key: string;
  readonly outcome: ObjectOutcome;
  readonly code?: string | undefined;
  readonly message?: string | undefined;
}

/** How a template's placeholders map to SQL columns of the jobs table. */
export function placeholderColumn(t: JobsTable, column: string): string {
  if (column === 'id' || column === t.names.id) return t.id;
  if (column === 'file_key' || column === t.names.fileKey) return t.fileKey;
  return quoteIdent(column);
}

/** Values of the columns the templates read, per row id (`id` and `file_key` come with the row). */
export async function readTemplateValues(
  db: Queryable,
  t: JobsTable,
  templates: readonly DerivedTemplate[],
  rows: readonly ExpiredRow[],
): Promise<Map<string, Map<string, string | null>>> {
  const extra = [...new Set(templates.flatMap((x) => x.columns))].filter((c) => placeholderColumn(t, c) !== t.id && placeholderColumn(t, c) !== t.fileKey);
  const out = new Map<string, Map<string, string | null>>();
  for (const r of rows)
    out.set(
      r.id,
      new Map<string, string | null>([
        ['id', r.id],
        ['file_key', r.fileKey],
        [t.names.id, r.id],
        [t.names.fileKey, r.fileKey],
      ]),
    );
  if (extra.length === 0 || rows.length === 0) return out;
  const cols = extra.map((c) => `j.${quoteIdent(c)}::text`).join(', ');
  const { rows: found } = await db.query<string[]>({
    text: `SELECT j.${t.id}::text, ${cols} FROM ${t.table} j WHERE j.${t.id} = ANY($1::text[]::${t.idType}[])`,
    values: [textArray(rows.map((r) => r.id))],
    rowMode: 'array',
  });
  for (const f of found as unknown as (string | null)[][]) {
    const m = out.get(f[0]!);
    if (m) extra.forEach((c, i) => m.set(c, f[i + 1] ?? null));
  }
  return out;
}

/**
 * A template expanded for a row, or why it cannot be: null when a value is NULL (the row has no
 * such object); a refusal when the key is unsafe. Values other than the file key must be one path
 * segment, so `derived/{id}/` of id "a" never reaches into the prefix of id "a/b".
 */
export function expandFor(template: DerivedTemplate, values: ReadonlyMap<string, string | null>): { key: string } | { problem: string } | null {
  let missing = false;
  let problem: string | null = null;
  const key = expandWith(template.parts, (column) => {
    const v = values.get(column);
    if (v === undefined || v === null) {
      missing = true;
      return '';
    }
    if (column !== 'file_key' && v.includes('/')) problem = `{${column}} must not contain "/"`;
    return v;
  });
  if (missing) return null;
  if (problem) return { problem: `derived ${JSON.stringify(template.template)}: ${problem}` };
  const p = checkKey(template.prefix ? key.slice(0, -1) : key);
  if (p) return { problem: `derived ${JSON.stringify(template.template)}: ${p.message.replace(/^file_key: /, 'expanded key: ')}` };
  if (isReservedKey(key)) return { problem: `derived ${JSON.stringify(template.template)}: the expanded key is under Lethe's own .lethe/` };
  return { key };
}

/**
 * Shared derived objects (dedup blobs): of a shareable template's expanded keys, those that a
 * jobs row outside `erasing` still expands to. Those stay until the last referring row goes, as
 * for shared source keys (docs/safety.md#shared-keys).
 */
export async function keysStillReferred(
  db: Queryable,
  t: JobsTable,
  types: ReadonlyMap<string, string>,
  template: DerivedTemplate,
  planned: readonly PlannedObject[],
  values: ReadonlyMap<string, ReadonlyMap<string, string | null>>,
  erasing: readonly string[],
): Promise<Set<string>> {
  const cols = template.columns;
  const tuples = cols.map(() => [] as string[]);
  for (const p of planned) {
    const v = values.get(p.row.id)!;
    cols.forEach((c, i) => tuples[i]!.push(v.get(c)!));
  }
  // Compared in the columns' own types, so an index on a blob column serves the lookup.
  const sqlCols = cols.map((c) => `j.${placeholderColumn(t, c)}`);
  const casts = cols.map((c, i) => `x${i}::${types.get(c) ?? 'text'}`);
  const { rows } = await db.query<string[]>({
    text: `SELECT DISTINCT ${sqlCols.map((c) => `${c}::text`).join(', ')} FROM ${t.table} j
            WHERE (${sqlCols.join(', ')}) IN (SELECT ${casts.join(', ')} FROM unnest(${cols.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS u(${cols.map((_, i) => `x${i}`).join(', ')}))
              AND j.${t.id} <> ALL($${cols.length + 1}::text[]::${t.idType}[])`,
    values: [...tuples.map((x) => textArray(x)), textArray(erasing)],
    rowMode: 'array',
  });
  const kept = new Set<string>();
  for (const r of rows as unknown as string[][]) {
    const m = new Map<string, string | null>(cols.map((c, i) => [c, r[i] ?? null]));
    const e = expandFor(template, m);
    if (e && 'key' in e) kept.add(e.key);
  }
  return kept;
}

/** Deletes each store's keys (prefixes listed first); one outcome per planned object, several for a prefix. */
export async function deleteObjects(
  planned: readonly PlannedObject[],
  protect: (store: ObjectStore, keys: readonly string[]) => Promise<ReadonlySet<string>>,
): Promise<ObjectEvidence[]> {
  const byStore = new Map<ObjectStore, PlannedObject[]>();
  for (const p of planned) {
    const list = byStore.get(p.store);
    if (list) list.push(p);
    else byStore.set(p.store, [p]);
  }
  const evidence: ObjectEvidence[] = [];
  await Promise.all(
    [...byStore].map(async ([store, items]) => {
      const targets: { item: PlannedObject; key: string }[] = [];
      for (const item of items) {
        if (!item.template.prefix) targets.push({ item, key: item.key });
        else {
          try {
            for await (const o of store.storage.list(item.key)) if (o.key.startsWith(item.key)) targets.push({ item, key: o.key });
          } catch (error) {
            evidence.push({
              jobId: item.row.id,
              template: item.template.template,
              store: store.name,
              key: item.key,
              outcome: 'failed',
              code: ErrorCodes.STORAGE,
              message: `listing the derived prefix failed: ${(error as Error).message}`,
            });
          }
        }
      }
      // A derived key that is another live job's file (or a held key) is never deleted (docs/rights.md#derived-data).
      const protectedKeys = await protect(store, [...new Set(targets.map((x) => x.key))]);
      for (let i = targets.length - 1; i >= 0; i--) {
        const { item, key } = targets[i]!;
        if (!protectedKeys.has(key)) continue;
        evidence.push({ jobId: item.row.id, template: item.template.template, store: store.name, key, outcome: 'kept_shared' });
        targets.splice(i, 1);
      }
      const keys = [...new Set(targets.map((x) => x.key))];
      let results: KeyOutcome[];
      try {
        results = keys.length === 0 ? [] : await store.storage.deleteMany(keys);
      } catch (error) {
        results = keys.map((key) => ({ key, outcome: 'failed', code: ErrorCodes.STORAGE, message: (error as Error).message }));
      }
      // Incomplete multipart uploads under a derived prefix hold its data too (S3): aborted, or the row is kept.
      if (store.storage.abortUploadsUnder) {
        for (const item of items) {
          if (!item.template.prefix) continue;
          const f = await store.storage.abortUploadsUnder(item.key);
          if (f)
            evidence.push({
              jobId: item.row.id,
              template: item.template.template,
              store: store.name,
              key: item.key,
              outcome: 'failed',
              code: f.code,
              message: f.message,
            });
        }
      }
      const byKey = new Map(results.map((r) => [r.key, r]));
      for (const { item, key } of targets) {
        const r = byKey.get(key);
        const outcome: ObjectOutcome = r === undefined ? 'failed' : r.outcome;
        evidence.push({
          jobId: item.row.id,
          template: item.template.template,
          store: store.name,
          key,
          outcome,
          code: r?.code ?? (r ? undefined : ErrorCodes.STORAGE),
          message: r?.message ?? (r ? undefined : 'storage returned no outcome for this key'),
        });
      }
      // An empty prefix is evidence too: nothing was under it when the job went.
      for (const item of items) {
        if (item.template.prefix && !targets.some((x) => x.item === item) && !evidence.some((e) => e.jobId === item.row.id && e.key === item.key)) {
          evidence.push({ jobId: item.row.id, template: item.template.template, store: store.name, key: item.key, outcome: 'absent' });
        }
      }
    }),
  );
  return evidence;
}
