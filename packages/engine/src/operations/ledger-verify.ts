import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/pool.js';
import type { Engine } from '../engine.js';
import { ConfigError } from '../errors.js';
import { inspectJobsTable, type JobsTable } from '../db/jobs-table.js';
import { ledgerKeyFunction, type LedgerKeyFn } from '../policy/ledger-keys.js';
import type { ObjectInfo, StoragePort } from '../ports.js';
import { activeHeldLedgerKeys } from '../run/purge-due.js';
import { repairFindings, type RepairCounts } from './ledger-repair.js';
import { withRunLock } from '../run/locked.js';
import { databaseNow } from './plan.js';
import { statAll } from './verify.js';
import { verifyDerived, type DerivedVerifyReport } from './derived-verify.js';

/**
 * DELF's under-deletion check (docs/safety.md#ledger-verification-under-deletion-check): the ledger says a file is gone; is it? A backup restore,
 * or a store that acknowledged a delete it did not do, brings files back that the ledger records
 * as erased. `verifyLedger` samples (or scans) ledger rows whose file should be gone and stats
 * each key (bounded concurrency). A file found is a finding unless it is rightly back: a `jobs`
 * row refers to the key again, or the key's latest ledger entry is a restore. Held keys are
 * reported, never repaired. `repair` erases findings again through `deleteMany` (ledger
 * `reerased`, audit `cleanup_ledger_reerased`), under the run lock.
 *
 * Only the same object is ever repaired. A file at the key last modified at or after its erasure
 * began (the run's start, or the ledger's `erased_at` when no run row says) is a newer file: a new
 * upload whose row is not in yet, or a copy that did not keep its modification time. It is a
 * finding of its own kind, `newer_object`, counted in `newer_objects` and never deleted.
 *
 * With HMAC keys (ledgerKeyHmacSecret) the ledger holds no key to stat, so the scan goes the other
 * way: storage is listed, each key hashed, and matched against the ledger.
 */

/** Ledger outcomes that mean "no file at this key any more". */
export const GONE_OUTCOMES = ['erased', 'absent', 'purged', 'reerased', 'trashed'] as const;

export interface LedgerVerifyOptions {
  /** Ledger rows to sample (default 1000); ignored with `all`. */
  readonly sample?: number;
  /** Check every ledger row (keyset-paged, one batch in memory). */
  readonly all?: boolean;
  readonly repair?: boolean;
  readonly by?: string;
  /** Stats in flight (default 32). */
  readonly concurrency?: number;
  readonly batchSize?: number;
  readonly maxFindings?: number;
  readonly lockWaitMs?: number;
  readonly signal?: AbortSignal;
}

export interface LedgerFinding {
  readonly ledger_id: string;
  readonly job_id: string;
  /** As the ledger holds it (a hash in HMAC mode). */
  readonly ledger_key: string;
  /** The key in storage. */
  readonly file_key: string;
  readonly outcome: string;
  readonly erased_at: string;
  readonly run_id: string;
  readonly size: number;
  readonly modified_at: string;
  readonly held: boolean;
  /**
   * `present`: the object that was erased is back (modified before its erasure began): repairable.
   * `newer_object`: the file at the key was modified at or after the erasure began: a different,
   * newer file, never repaired.
   */
  readonly kind: LedgerFindingKind;
  /** When the erasure began: the run's start, or `erased_at` when the ledger row has no run row. */
  readonly erasure_started_at: string;
  /** After --repair: what the new delete did (or why nothing was deleted). */
  readonly repair?: 'erased' | 'absent' | 'failed' | 'skipped_held' | 'skipped_newer' | 'skipped_changed';
  readonly repair_error?: string;
}

export type LedgerFindingKind = 'present' | 'newer_object';

export interface LedgerVerifyReport extends RepairCounts {
  readonly verify_id: string;
  readonly checked_at: string;
  readonly mode: 'sample' | 'all' | 'storage_scan';
  readonly storage: string;
  /** Ledger rows (or listed objects, in a storage scan) looked at. */
  readonly rows_checked: number;
  readonly keys_checked: number;
  /** Recorded gone, still in storage, not rightly back. */
  readonly present: number;
  /** Present, but a jobs row refers to the key again or it was restored: not a finding. */
  readonly rightly_present: number;
  readonly held: number;
  /** Of `present`: a file modified after its key was erased (kind `newer_object`): never repaired. */
  readonly newer_objects: number;
  readonly unverifiable: number;
  readonly findings: readonly LedgerFinding[];
  readonly findings_truncated: boolean;
  /** Findings neither repaired nor gone by now (derived data's included): the command's failure count. */
  readonly unresolved: number;
  /** Derived objects and child rows recorded gone, checked the same way (docs/rights.md#derived-data). */
  readonly derived: DerivedVerifyReport;
}

type LedgerRow = { id: string; job_id: string; file_key: string; outcome: string; erased_at: Date; run_id: string };

interface Candidate {
  readonly row: LedgerRow;
  readonly key: string;
  readonly size: number;
  readonly modifiedMs: number;
}

export async function verifyLedger(engine: Engine, o: LedgerVerifyOptions = {}): Promise<LedgerVerifyReport> {
  if (o.sample !== undefined && (!Number.isInteger(o.sample) || o.sample < 1))
    throw new ConfigError(`sample: expected a positive integer, got ${JSON.stringify(o.sample)}`);
  const run = (): Promise<LedgerVerifyReport> => verifyUnlocked(engine, o);
  // Repairs delete files: they take the run lock, so no run or restore moves keys underneath.
  return o.repair ? withRunLock(engine.pool, engine.options, run, o.lockWaitMs) : run();
}

async function verifyUnlocked(engine: Engine, o: LedgerVerifyOptions): Promise<LedgerVerifyReport> {
  const db = engine.pool;
  const storage = engine.storage();
  const table = await inspectJobsTable(db, engine.options.jobs);
  const keyFor = ledgerKeyFunction(engine.options.ledgerKeyHmacSecret);
  const hashed = engine.options.ledgerKeyHmacSecret !== null;
  const mode = hashed ? 'storage_scan' : o.all ? 'all' : 'sample';
  const held = new Set(await activeHeldLedgerKeys(db, engine.options));
  const counts = { rows_checked: 0, keys_checked: 0, present: 0, rightly_present: 0, held: 0, newer_objects: 0, unverifiable: 0 };
  const found: { c: Candidate; startedMs: number }[] = [];
  const maxFindings = o.maxFindings ?? 1000;
  let truncated = false;
  for await (const batch of hashed ? storageScan(db, storage, keyFor, o) : ledgerRows(db, storage, mode === 'all', o)) {
    counts.rows_checked += batch.rowsChecked;
    counts.keys_checked += batch.candidates.length;
    const present = batch.candidates.filter((c) => c.size >= 0);
    counts.unverifiable += batch.unverifiable;
    const back = await rightlyBack(
      db,
      table,
      present.map((c) => c.key),
      present.map((c) => c.row.file_key),
    );
    const left = present.filter((c) => !back.has(c.row.file_key));
    counts.rightly_present += present.length - left.length;
    const runStarts = await runStartsMs(
      db,
      left.map((c) => c.row.run_id),
    );
    for (const c of left) {
      counts.present++;
      const startedMs = erasureStartedMs(c.row, runStarts);
      if (held.has(c.row.file_key)) counts.held++;
      if (c.modifiedMs >= startedMs) counts.newer_objects++;
      if (found.length < maxFindings) found.push({ c, startedMs });
      else truncated = true;
    }
  }
  const verifyId = randomUUID();
  let findings: LedgerFinding[] = found.map(({ c, startedMs }) => toFinding(c, held.has(c.row.file_key), startedMs));
  let repaired: RepairCounts = { repaired: 0, repair_failed: 0 };
  if (o.repair && findings.length > 0) ({ findings, counts: repaired } = await repairFindings(engine, verifyId, findings, o.by ?? 'lethe'));
  const derived = await verifyDerived(engine, {
    all: o.all === true,
    ...(o.sample === undefined ? {} : { sample: o.sample }),
    ...(o.concurrency === undefined ? {} : { concurrency: o.concurrency }),
  });
  const unresolved = counts.present - repaired.repaired + derived.unresolved;
  return {
    verify_id: verifyId,
    checked_at: await databaseNow(db),
    mode,
    storage: storage.describe,
    ...counts,
    ...repaired,
    findings,
    findings_truncated: truncated,
    unresolved,
    derived,
  };
}

function toFinding(c: Candidate, held: boolean, startedMs: number): LedgerFinding {
  return {
    ledger_id: c.row.id,
    job_id: c.row.job_id,
    ledger_key: c.row.file_key,
    file_key: c.key,
    outcome: c.row.outcome,
    erased_at: c.row.erased_at.toISOString(),
    run_id: c.row.run_id,
    size: c.size,
    modified_at: new Date(c.modifiedMs).toISOString(),
    held,
    kind: c.modifiedMs >= startedMs ? 'newer_object' : 'present',
    erasure_started_at: new Date(startedMs).toISOString(),
  };
}

/**
 * The erasure began no later than the ledger row was written, and no earlier than its run
 * started: the run's start is the safe bound (the ledger row is written after the delete, so a
 * file uploaded between the delete and the ledger write is still newer than the erasure).
 */
function erasureStartedMs(row: LedgerRow, runStarts: ReadonlyMap<string, number>): number {
  const erased = row.erased_at.getTime();
  const started = runStarts.get(row.run_id);
  return started === undefined ? erased : Math.min(erased, started);
}

/** Start of each run among these ids that has a `lethe_runs` row (reconcile and repair ids have none). */
async function runStartsMs(db: Queryable, runIds: readonly string[]): Promise<Map<string, number>> {
  if (runIds.length === 0) return new Map();
  const { rows } = await db.query<{ id: string; started_at: Date }>(`SELECT id::text, started_at FROM lethe_runs WHERE id = ANY($1::uuid[])`, [
    [...new Set(runIds)],
  ]);
  return new Map(rows.map((r) => [r.id, r.started_at.getTime()]));
}

interface CandidateBatch {
  readonly rowsChecked: number;
  /** `size` -1: absent (as it should be). */
  readonly candidates: Candidate[];
  readonly unverifiable: number;
}

const GONE_SQL = `outcome IN (${GONE_OUTCOMES.map((x) => `'${x}'`).join(', ')})`;
const ROW_COLUMNS = 'id::text, job_id, file_key, outcome, erased_at, run_id::text';

/** Plain keys: ledger rows (a sample, or all of them keyset-paged), their distinct keys stat'ed. */
async function* ledgerRows(db: Queryable, storage: StoragePort, all: boolean, o: LedgerVerifyOptions): AsyncGenerator<CandidateBatch> {
  const concurrency = o.concurrency ?? 32;
  if (!all) {
    yield await statRows(storage, await sampleRows(db, o.sample ?? 1000), concurrency);
    return;
  }
  let lastId = '0';
  for (;;) {
    if (o.signal?.aborted) return;
    const { rows } = await db.query<LedgerRow>(
      `SELECT ${ROW_COLUMNS} FROM lethe_ledger WHERE ${GONE_SQL} AND id > $1::bigint ORDER BY lethe_ledger.id LIMIT $2`,
      [lastId, o.batchSize ?? 1000],
    );
    if (rows.length === 0) return;
    lastId = rows[rows.length - 1]!.id;
    yield await statRows(storage, rows, concurrency);
  }
}

/** A Bernoulli sample sized from the table's estimate (no full sort); a full random pick when it comes up short. */
async function sampleRows(db: Queryable, n: number): Promise<LedgerRow[]> {
  const est = await db.query<{ n: number }>(`SELECT greatest(reltuples, 0)::float8 AS n FROM pg_class WHERE oid = 'lethe_ledger'::regclass`);
  const percent = Math.min(100, (100 * 3 * n) / Math.max(1, est.rows[0]?.n ?? 0));
  if (percent < 100) {
    const { rows } = await db.query<LedgerRow>(`SELECT ${ROW_COLUMNS} FROM lethe_ledger TABLESAMPLE BERNOULLI ($1) WHERE ${GONE_SQL} LIMIT $2`, [percent, n]);
    if (rows.length >= n) return rows;
  }
  const { rows } = await db.query<LedgerRow>(`SELECT ${ROW_COLUMNS} FROM lethe_ledger WHERE ${GONE_SQL} ORDER BY random() LIMIT $1`, [n]);
  return rows;
}

async function statRows(storage: StoragePort, rows: readonly LedgerRow[], concurrency: number): Promise<CandidateBatch> {
  const byKey = new Map<string, LedgerRow>();
  for (const r of rows) {
    const had = byKey.get(r.file_key);
    if (!had || Number(r.id) > Number(had.id)) byKey.set(r.file_key, r);
  }
  const stats = await statAll(storage, [...byKey.keys()], concurrency);
  let unverifiable = 0;
  const candidates: Candidate[] = [];
  for (const [key, row] of byKey) {
    const s = stats.get(key)!;
    if ('error' in s) unverifiable++;
    else candidates.push({ row, key, size: s.info ? s.info.size : -1, modifiedMs: s.info?.modifiedMs ?? 0 });
  }
  return { rowsChecked: rows.length, candidates, unverifiable };
}

/** HMAC keys: list storage, hash each key, and match the ledger's latest entry for it (one query per 1000). */
async function* storageScan(db: Queryable, storage: StoragePort, keyFor: LedgerKeyFn, o: LedgerVerifyOptions): AsyncGenerator<CandidateBatch> {
  const size = o.batchSize ?? 1000;
  let chunk: ObjectInfo[] = [];
  const flush = async (): Promise<CandidateBatch> => {
    const hashed = chunk.map((c) => keyFor(c.key));
    const { rows } = await db.query<LedgerRow>(
      `SELECT DISTINCT ON (file_key) ${ROW_COLUMNS} FROM lethe_ledger WHERE file_key = ANY($1::text[]) ORDER BY file_key, lethe_ledger.id DESC`,
      [hashed],
    );
    const latest = new Map(rows.map((r) => [r.file_key, r]));
    const candidates: Candidate[] = [];
    chunk.forEach((c, i) => {
      const row = latest.get(hashed[i]!);
      if (row && (GONE_OUTCOMES as readonly string[]).includes(row.outcome)) candidates.push({ row, key: c.key, size: c.size, modifiedMs: c.modifiedMs });
    });
    const out = { rowsChecked: chunk.length, candidates, unverifiable: 0 };
    chunk = [];
    return out;
  };
  for await (const info of storage.list()) {
    if (o.signal?.aborted) return;
    chunk.push(info);
    if (chunk.length >= size) yield await flush();
  }
  if (chunk.length > 0) yield await flush();
}

/**
 * Ledger keys among these that are rightly present: a jobs row refers to the key again (a new
 * upload), or the key's latest ledger entry is not a "gone" one (a restore). One query each, for
 * present keys only (few).
 */
async function rightlyBack(db: Queryable, t: JobsTable, keys: readonly string[], ledgerKeys: readonly string[]): Promise<Set<string>> {
  const back = new Set<string>();
  if (keys.length === 0) return back;
  const live = await db.query<{ k: string }>(`SELECT DISTINCT ${t.fileKey}::text AS k FROM ${t.table} WHERE ${t.fileKey} = ANY($1::text[])`, [keys]);
  const liveKeys = new Set(live.rows.map((r) => r.k));
  keys.forEach((k, i) => {
    if (liveKeys.has(k)) back.add(ledgerKeys[i]!);
  });
  const latest = await db.query<{ file_key: string; outcome: string }>(
    `SELECT DISTINCT ON (file_key) file_key, outcome FROM lethe_ledger WHERE file_key = ANY($1::text[]) ORDER BY file_key, lethe_ledger.id DESC`,
    [ledgerKeys],
  );
  for (const r of latest.rows) if (!(GONE_OUTCOMES as readonly string[]).includes(r.outcome)) back.add(r.file_key);
  return back;
}
