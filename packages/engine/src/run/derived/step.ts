import type pg from 'pg';
import type { Queryable } from '../../db/pool.js';
import { quoteIdent } from '../../db/identifiers.js';
import type { JobsTable } from '../../db/jobs-table.js';
import { ErrorCodes, SchemaError } from '../../errors.js';
import type { LedgerKeyFn } from '../../policy/ledger-keys.js';
import type { ExpiredRow, StoragePort } from '../../ports.js';
import { createStorage, parseStorageUrl } from '../../storage/index.js';
import { textArray } from '../../db/arrays.js';
import type { RowOutcome } from '../record.js';
import type { FailureBreaker } from '../breaker.js';
import { deleteChildRows, inspectChildTables, type ChildTable, type RowsEvidence } from './child-rows.js';
import { hasDerived, type DerivedDeclarations } from './declarations.js';
import {
  deleteObjects,
  expandFor,
  keysStillReferred,
  placeholderColumn,
  readTemplateValues,
  type ObjectEvidence,
  type ObjectStore,
  type PlannedObject,
} from './objects.js';

/** What the source erase returns (pipeline.ts's `erase`). */
export interface SourceErase {
  readonly outcomes: RowOutcome[];
  readonly unknown: boolean;
}

export interface DerivedErase extends SourceErase {
  readonly evidence: readonly ObjectEvidence[];
}

/**
 * A run's derived data (docs/rights.md#derived-data), in the batch path after the re-check under
 * row locks decided which keys go:
 *   1. derived objects of those rows (`eraseBefore`), before the source storage call; a row
 *      whose derived object could not be deleted (failed, or a template that expands to an
 *      unsafe key) keeps its source file and its row (with every row of its key), so the rerun
 *      tries again;
 *   2. the source files (the pipeline's own erase, unchanged);
 *   3. in the batch's transaction, before the outcome statement removes the job rows
 *      (`recordBefore`): child rows of the jobs that go, and the evidence rows.
 * Rows refused, held or shared never reach this step, so their derived data is kept with them.
 */
export class DerivedStep {
  readonly #owned: StoragePort[];

  private constructor(
    readonly declarations: DerivedDeclarations,
    private readonly table: JobsTable,
    private readonly children: readonly ChildTable[],
    private readonly columnTypes: ReadonlyMap<string, string>,
    /** The store of each declared object, by index. */
    private readonly stores: readonly ObjectStore[],
    owned: StoragePort[],
    private readonly runId: string,
    private readonly ledgerKey: LedgerKeyFn,
    private readonly mainStorage: StoragePort,
    private readonly breaker: FailureBreaker | null,
  ) {
    this.#owned = owned;
  }

  /** Null when nothing is declared. Checks every table and column now, so a typo fails before the first delete. */
  static async create(o: {
    readonly pool: pg.Pool;
    readonly table: JobsTable;
    readonly storage: StoragePort;
    readonly declarations: DerivedDeclarations;
    readonly runId: string;
    readonly ledgerKey: LedgerKeyFn;
    readonly breaker?: FailureBreaker;
  }): Promise<DerivedStep | null> {
    const d = o.declarations;
    if (!hasDerived(d)) return null;
    const children = await inspectChildTables(o.pool, d.tables);
    const types = await jobsColumnTypes(o.pool, o.table, [...new Set(d.objects.flatMap((x) => x.columns))]);
    const owned: StoragePort[] = [];
    const byUrl = new Map<string, ObjectStore>();
    const main: ObjectStore = { name: o.storage.describe, storage: o.storage };
    const storeOf: ObjectStore[] = [];
    try {
      for (const [i, x] of d.objects.entries()) {
        if (x.storage === null) storeOf.push(main);
        else {
          let s = byUrl.get(x.storage);
          if (!s) {
            const storage = await createStorage(parseStorageUrl(x.storage, `derived.objects[${i}].storage`));
            owned.push(storage);
            s = { name: storage.describe, storage };
            byUrl.set(x.storage, s);
          }
          storeOf.push(s);
        }
      }
    } catch (error) {
      await Promise.all(owned.map((s) => s.close()));
      throw error;
    }
    return new DerivedStep(d, o.table, children, types, storeOf, owned, o.runId, o.ledgerKey, o.storage, o.breaker ?? null);
  }

  /** Derived objects first, then `eraseSource` for the rows whose derived objects are all gone. */
  async eraseBefore(
    db: Queryable,
    rows: readonly ExpiredRow[],
    keys: readonly string[],
    eraseSource: (rows: readonly ExpiredRow[], keys: readonly string[]) => Promise<SourceErase>,
  ): Promise<DerivedErase> {
    if (this.declarations.objects.length === 0) return { ...(await eraseSource(rows, keys)), evidence: [] };
    const { planned, refused } = await this.#plan(db, rows);
    const evidence: ObjectEvidence[] = [...refused];
    const toDelete: PlannedObject[] = [];
    for (const [i, template] of this.declarations.objects.entries()) {
      const mine = planned.filter((p) => p.template === template);
      if (mine.length === 0) continue;
      // Keys only {file_key} builds need no count: the re-check erases a key with every row of it.
      const shared =
        template.shareable && template.columns.some((c) => placeholderColumn(this.table, c) !== this.table.fileKey)
          ? await keysStillReferred(
              db,
              this.table,
              this.columnTypes,
              template,
              mine,
              await this.#values(db, rows),
              rows.map((r) => r.id),
            )
          : new Set<string>();
      for (const p of mine) {
        if (shared.has(p.key)) evidence.push({ jobId: p.row.id, template: template.template, store: this.stores[i]!.name, key: p.key, outcome: 'kept_shared' });
        else toDelete.push(p);
      }
    }
    evidence.push(
      ...(await deleteObjects(toDelete, (store, k) =>
        store.storage === this.mainStorage ? this.#sourceKeysAmong(db, k, rows) : Promise.resolve(new Set<string>()),
      )),
    );
    const blockedKeys = new Map<string, ObjectEvidence>();
    const keyOf = new Map(rows.map((r) => [r.id, r.fileKey]));
    for (const e of evidence)
      if ((e.outcome === 'failed' || e.outcome === 'refused') && !blockedKeys.has(keyOf.get(e.jobId)!)) blockedKeys.set(keyOf.get(e.jobId)!, e);
    if (blockedKeys.size === 0) return { ...(await eraseSource(rows, keys)), evidence };
    const go = rows.filter((r) => !blockedKeys.has(r.fileKey));
    const source =
      go.length === 0
        ? { outcomes: [], unknown: false }
        : await eraseSource(
            go,
            keys.filter((k) => !blockedKeys.has(k)),
          );
    const kept: RowOutcome[] = rows
      .filter((r) => blockedKeys.has(r.fileKey))
      .map((row) => {
        const e = blockedKeys.get(row.fileKey)!;
        return e.outcome === 'refused'
          ? {
              row,
              outcome: 'refused',
              code: e.code ?? ErrorCodes.KEY_OUTSIDE_ROOT,
              message: `${e.message ?? 'unsafe derived key'}; the file and its row were kept`,
            }
          : {
              row,
              outcome: 'failed',
              code: ErrorCodes.DERIVED_FAILED,
              message: `derived object ${e.key} (${e.template}) could not be deleted (${e.code ?? 'error'}: ${e.message ?? ''}); the file and its row were kept for the next run`,
            };
      });
    // Derived deletes that fail count for the failure breaker as the source's do (a store that refuses them all pauses Lethe).
    for (const k of kept) if (k.outcome === 'failed') this.breaker?.record('failed');
    return { outcomes: [...source.outcomes, ...kept], unknown: source.unknown, evidence };
  }

  /** In the batch's transaction, right before the outcome statement: child rows of the jobs that go, then the evidence. */
  async recordBefore(db: Queryable, outcomes: readonly RowOutcome[], objects: readonly ObjectEvidence[]): Promise<void> {
    const going = outcomes.filter((o) => o.outcome === 'erased' || o.outcome === 'absent').map((o) => o.row);
    const rows = this.children.length === 0 ? [] : await deleteChildRows(db, this.children, going);
    await this.#writeEvidence(
      db,
      objects.filter((e) => e.outcome !== 'refused' && e.outcome !== 'failed'),
      rows,
    );
  }

  /**
   * Of these derived keys on the run's storage, those that are a file of a jobs row outside the
   * batch's erased rows, or under an active hold: a template must never reach another job's file.
   */
  async #sourceKeysAmong(db: Queryable, keys: readonly string[], erasing: readonly ExpiredRow[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const t = this.table;
    const { rows } = await db.query<{ k: string }>(
      `SELECT j.${t.fileKey}::text AS k FROM ${t.table} j WHERE j.${t.fileKey} = ANY($1::text[]) AND j.${t.id} <> ALL($2::text[]::${t.idType}[])
       UNION SELECT h.file_key FROM lethe_holds h WHERE h.file_key = ANY($1::text[]) AND h.released_at IS NULL AND (h.until IS NULL OR h.until > now())`,
      [textArray(keys), textArray(erasing.map((r) => r.id))],
    );
    return new Set(rows.map((r) => r.k));
  }

  async close(): Promise<void> {
    await Promise.all(this.#owned.map((s) => s.close()));
  }

  #valuesCache: { rows: readonly ExpiredRow[]; values: Map<string, Map<string, string | null>> } | null = null;

  async #values(db: Queryable, rows: readonly ExpiredRow[]): Promise<Map<string, Map<string, string | null>>> {
    if (this.#valuesCache?.rows !== rows) this.#valuesCache = { rows, values: await readTemplateValues(db, this.table, this.declarations.objects, rows) };
    return this.#valuesCache.values;
  }

  async #plan(db: Queryable, rows: readonly ExpiredRow[]): Promise<{ planned: PlannedObject[]; refused: ObjectEvidence[] }> {
    const values = await this.#values(db, rows);
    const planned: PlannedObject[] = [];
    const refused: ObjectEvidence[] = [];
    for (const row of rows) {
      const v = values.get(row.id)!;
      for (const [i, template] of this.declarations.objects.entries()) {
        const e = expandFor(template, v);
        if (e === null) continue;
        const store = this.stores[i]!;
        if ('problem' in e)
          refused.push({
            jobId: row.id,
            template: template.template,
            store: store.name,
            key: '',
            outcome: 'refused',
            code: ErrorCodes.KEY_OUTSIDE_ROOT,
            message: e.problem,
          });
        else planned.push({ row, template, store, key: e.key });
      }
    }
    return { planned, refused };
  }

  async #writeEvidence(db: Queryable, objects: readonly ObjectEvidence[], rows: readonly RowsEvidence[]): Promise<void> {
    if (objects.length === 0 && rows.length === 0) return;
    const jobIds = [...objects.map((e) => e.jobId), ...rows.map((r) => r.jobId)];
    const kinds = [...objects.map(() => 'object'), ...rows.map(() => 'rows')];
    const decl = [...objects.map((e) => e.template), ...rows.map((r) => r.table)];
    const stores = [...objects.map((e) => e.store), ...rows.map(() => null)];
    const keys = [...objects.map((e) => this.ledgerKey(e.key)), ...rows.map(() => null)];
    const counts = [...objects.map(() => null), ...rows.map((r) => String(r.count))];
    const outcomes = [...objects.map((e) => e.outcome), ...rows.map(() => 'deleted')];
    await db.query(
      `INSERT INTO lethe_ledger_derived (run_id, job_id, kind, declaration, storage, object_key, row_count, outcome)
       SELECT $1::uuid, u.job_id, u.kind, u.decl, u.store, u.key, u.n::int, u.outcome
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) AS u(job_id, kind, decl, store, key, n, outcome)`,
      [this.runId, textArray(jobIds), textArray(kinds), textArray(decl), textArray(stores), textArray(keys), textArray(counts), textArray(outcomes)],
    );
  }
}

/** The SQL types of the jobs columns the templates read; a missing column fails the run before its first delete. */
async function jobsColumnTypes(db: Queryable, t: JobsTable, columns: readonly string[]): Promise<Map<string, string>> {
  const { rows } = await db.query<{ attname: string; type: string }>(
    `SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a
      WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
    [quoteIdent(t.names.table)],
  );
  const types = new Map(rows.map((r) => [r.attname, r.type]));
  const out = new Map<string, string>();
  for (const c of columns) {
    const real = c === 'id' ? t.names.id : c === 'file_key' ? t.names.fileKey : c;
    const type = types.get(real);
    if (type === undefined) throw new SchemaError(`derived.objects: placeholder {${c}} names no column of the jobs table ${JSON.stringify(t.names.table)}`);
    out.set(c, type);
  }
  return out;
}
