import { streamCursor } from '../db/cursor.js';
import type pg from 'pg';
import type { JobsTable } from '../db/jobs-table.js';
import type { ObjectInfo, StoragePort } from '../ports.js';
import { checkKey, type KeyProblem } from '../storage/keys.js';
import { heldKeysNow } from '../run/keep/hold-guard.js';
import { statAll } from './verify.js';

/**
 * The two scans behind `lethe reconcile` (runbook FM-005), both streamed in batches so memory
 * holds one batch whatever the sizes of the bucket and the table:
 *
 * - orphan files: listed in storage, older than the minimum age (uploads in flight are never
 *   touched), with no jobs row and no ledger entry for their key (one query per batch, served by
 *   the file_key indexes on both tables);
 * - orphan rows: jobs rows older than the minimum age whose file is not in storage (stats in
 *   bounded parallel). Rows whose key is unsafe or cannot be checked are never orphans.
 *
 * Either kind whose key is under an active legal hold (docs/safety.md#legal-holds) is reported apart as held and is
 * never an orphan to act on; `reconcile --apply` checks the holds again under a lock as it acts.
 */

/**
 * Why a `--prefix` is refused, or null. The prefix names a directory under the storage root, so it
 * must be a safe key (DESIGN invariant 4: reject, never normalise: no `..`, `.`, absolute path,
 * `//`, backslash, NUL); one trailing `/` is allowed (`uploads/`).
 */
export function prefixProblem(prefix: string): KeyProblem | null {
  const problem = checkKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
  if (problem === null) return null;
  const what = problem.message.replace(/^file_key: /, '');
  return { code: problem.code, message: `${what}; expected a relative directory under the storage root like "uploads/2024", got ${JSON.stringify(prefix)}` };
}

export interface ScanContext {
  readonly pool: pg.Pool;
  readonly table: JobsTable;
  readonly storage: StoragePort;
  /** The database's now (ISO). */
  readonly now: string;
  readonly minAgeMs: number;
  readonly batchSize: number;
  readonly concurrency: number;
  readonly prefix?: string;
  readonly signal?: AbortSignal;
  /** The key as the ledger stores it (itself, or its HMAC when ledgerKeyHmacSecret is set). */
  readonly ledgerKey: (key: string) => string;
}

export interface FileScanBatch {
  /** Files listed in this batch, older than the minimum age. */
  readonly old: number;
  /** Files listed in this batch, newer than the minimum age (never touched). */
  readonly young: number;
  readonly orphans: readonly ObjectInfo[];
  /** Would be orphans, but under an active legal hold: never touched. */
  readonly held: readonly ObjectInfo[];
}

export async function* orphanFileBatches(ctx: ScanContext): AsyncGenerator<FileScanBatch> {
  const oldBeforeMs = Date.parse(ctx.now) - ctx.minAgeMs;
  let pending: ObjectInfo[] = [];
  let young = 0;
  const flush = async (): Promise<FileScanBatch> => {
    const batch = pending;
    pending = [];
    const y = young;
    young = 0;
    const known = await knownKeys(
      ctx,
      batch.map((o) => o.key),
    );
    const unknown = batch.filter((o) => !known.has(o.key));
    const held = await heldKeysNow(
      ctx.pool,
      unknown.map((o) => o.key),
    );
    return { old: batch.length, young: y, orphans: unknown.filter((o) => !held.has(o.key)), held: unknown.filter((o) => held.has(o.key)) };
  };
  for await (const object of ctx.storage.list(ctx.prefix)) {
    if (ctx.signal?.aborted) break;
    // Adapters list keys relative to the root; one that is not a safe key is never acted on.
    if (checkKey(object.key) !== null) continue;
    if (object.modifiedMs >= oldBeforeMs) young++;
    else pending.push(object);
    if (pending.length >= ctx.batchSize) yield await flush();
  }
  if (pending.length > 0 || young > 0) yield await flush();
}

/** Keys some jobs row or ledger entry knows about (the ledger is searched by its form of the key). */
async function knownKeys(ctx: ScanContext, keys: readonly string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const t = ctx.table;
  const { rows } = await ctx.pool.query<{ k: string }>(
    `SELECT x.k FROM unnest($1::text[], $2::text[]) AS x(k, lk)
      WHERE EXISTS (SELECT 1 FROM ${t.table} j WHERE j.${t.fileKey} = x.k)
         OR EXISTS (SELECT 1 FROM lethe_ledger l WHERE l.file_key = x.lk)`,
    [keys, keys.map(ctx.ledgerKey)],
  );
  return new Set(rows.map((r) => r.k));
}

export interface OrphanRow {
  readonly id: string;
  readonly fileKey: string;
  readonly purpose: string | null;
  readonly createdAtMs: number;
}

export interface RowScanBatch {
  /** Rows older than the minimum age looked at in this batch. */
  readonly checked: number;
  /** Rows whose key is unsafe or whose stat failed: never treated as orphans. */
  readonly unverifiable: number;
  readonly orphans: readonly OrphanRow[];
  /** Would be orphans, but their key is under an active legal hold: never touched. */
  readonly held: readonly OrphanRow[];
}

type RawRow = [string, string | null, string | null, number];

export async function* orphanRowBatches(ctx: ScanContext): AsyncGenerator<RowScanBatch> {
  const t = ctx.table;
  const sql = `SELECT j.${t.id}::text, j.${t.fileKey}::text, j.${t.purpose}::text, (extract(epoch FROM j.${t.createdAt}) * 1000)::float8
  FROM ${t.table} j
 WHERE j.${t.createdAt} < ${t.toColumnTime(`$1::timestamptz - $2::bigint * interval '1 millisecond'`)}`;
  for await (const raw of streamCursor<RawRow>(ctx.pool, sql, [ctx.now, Math.round(ctx.minAgeMs)], {
    batchSize: ctx.batchSize,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  })) {
    yield await judgeRows(ctx, raw);
  }
}

/** Rows newer than the minimum age: never judged, but looked at (the orphan share counts them). */
export async function countYoungRows(ctx: ScanContext): Promise<number> {
  const t = ctx.table;
  const { rows } = await ctx.pool.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM ${t.table} j WHERE j.${t.createdAt} >= ${t.toColumnTime(`$1::timestamptz - $2::bigint * interval '1 millisecond'`)}`,
    [ctx.now, Math.round(ctx.minAgeMs)],
  );
  return Number(rows[0]?.n ?? 0);
}

async function judgeRows(ctx: ScanContext, raw: readonly RawRow[]): Promise<RowScanBatch> {
  const safe = raw.filter((r) => r[1] !== null && checkKey(r[1]) === null);
  const stats = await statAll(ctx.storage, [...new Set(safe.map((r) => r[1]!))], ctx.concurrency);
  const missing: OrphanRow[] = [];
  let unverifiable = raw.length - safe.length;
  for (const r of safe) {
    const s = stats.get(r[1]!)!;
    if ('error' in s) unverifiable++;
    else if (s.info === null) missing.push({ id: r[0], fileKey: r[1]!, purpose: r[2], createdAtMs: r[3] });
  }
  const held = await heldKeysNow(
    ctx.pool,
    missing.map((r) => r.fileKey),
  );
  return { checked: raw.length, unverifiable, orphans: missing.filter((r) => !held.has(r.fileKey)), held: missing.filter((r) => held.has(r.fileKey)) };
}
