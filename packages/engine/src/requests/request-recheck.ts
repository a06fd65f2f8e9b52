import { keyStateSql, distinctKeys, type ControlCheck, type RecheckedBatch } from '../run/recheck.js';
import type { Queryable } from '../db/pool.js';
import type { PurposeSelection } from '../run/source.js';
import type { JobsTable } from '../db/jobs-table.js';
import type { ExpiredRow } from '../ports.js';
import { namedSql } from './named-rows.js';
import type { ErasureTarget } from './request.js';
import { policyArrays } from '../db/arrays.js';

/**
 * The re-check of a request's batch, in the batch's transaction right before the storage call
 * (docs/safety.md#races, docs/rights.md#how-a-request-runs). It is batch-recheck.ts with one test
 * changed: a row may go when it is *still named by the open request and not retained by statute
 * and not held*, instead of *expired*. Everything else is the same: every row at a batch key is
 * locked FOR UPDATE SKIP LOCKED; row counts per key, holds and the control row (pause, policy
 * version) are read in a fresh snapshot after the locks; the request row is read FOR SHARE.
 *
 * Per key: erased only when every row at it is locked by us, named, open and not retained, and
 * the key is not held. A key that other rows still need (shared, DESIGN invariant 3) keeps its
 * file: the named rows at it are erased alone (`detached`, ledger outcome `unlinked`). A held key
 * keeps its file and rows (`held`); a row of a purpose with `retainedUnder` is kept (`retained`).
 */
export interface RequestRecheckContext {
  readonly table: JobsTable;
  readonly requestId: string;
  readonly target: ErasureTarget;
  readonly principal: string | null;
  /** Every policy of the run's version (for the expiry written to the ledger). */
  readonly policies: readonly PurposeSelection[];
  /** Purpose -> statute, for purposes with a retention duty. */
  readonly retainedUnder: ReadonlyMap<string, string>;
  /** Dry run (`lethe erase --dry-run`): the same judgement without the row locks. */
  readonly lock: boolean;
  /** Dry run of a request not stored yet: take it as open (nothing is written either way). */
  readonly open?: boolean;
}

/** Rows kept by a request, with why; `statute` for `retained`. */
export interface RequestKept {
  readonly row: ExpiredRow;
  readonly reason: 'held' | 'retained' | 'changed' | 'unjudged';
  readonly statute?: string;
}

export interface RequestRecheckedBatch extends RecheckedBatch {
  /** Named rows erased alone: their file stays, other rows share it. */
  readonly detached: ExpiredRow[];
  readonly requestKept: RequestKept[];
  /** The request is no longer open (completed by another process): nothing was judged. */
  readonly closed: boolean;
}

/** Lock (or, dry, read) every row at the batch keys: $1 keys, $2 purposes, $3 intervals, $4 values. */
export function requestLockSql(t: JobsTable, target: ErasureTarget, principal: string | null, lock: boolean): string {
  const created = `j.${t.createdAt}`;
  return `SELECT j.${t.id}::text, j.${t.fileKey}::text, j.${t.purpose}::text,
       (extract(epoch FROM ${created}) * 1000)::float8,
       (extract(epoch FROM ${created} + p.retention) * 1000)::float8,
       coalesce(${namedSql(t, target, principal, 4)}, false)
  FROM ${t.table} j LEFT JOIN unnest($2::text[], $3::interval[]) AS p(purpose, retention) ON p.purpose = j.${t.purpose}
 WHERE j.${t.fileKey} = ANY($1::text[])${lock ? '\n   FOR UPDATE OF j SKIP LOCKED' : ''}`;
}

type LockedRaw = [string, string, string | null, number | null, number | null, boolean];
type StateRaw = [string, number | null, number];
type Locked = ExpiredRow & { readonly named: boolean };

export async function recheckRequestBatch(db: Queryable, ctx: RequestRecheckContext, batch: readonly ExpiredRow[]): Promise<RequestRecheckedBatch> {
  const keys = distinctKeys(batch);
  const locked = await db.query<LockedRaw>({
    text: requestLockSql(ctx.table, ctx.target, ctx.principal, ctx.lock),
    values: [keys, ...policyArrays(ctx.policies), [...ctx.target.values]],
    rowMode: 'array',
  });
  const state = await db.query<StateRaw>({ text: keyStateSql(ctx.table), values: [keys], rowMode: 'array' });
  const open =
    ctx.open === true && !ctx.lock
      ? { rows: [1] }
      : await db.query(`SELECT 1 FROM lethe_erasure_requests WHERE id = $1 AND state = 'open'${ctx.lock ? ' FOR SHARE' : ''}`, [ctx.requestId]);
  const control: ControlCheck = { paused: false, reason: null, policyVersion: 0 };
  const rowCount = new Map<string, number>();
  const held = new Set<string>();
  for (const r of state.rows as unknown as StateRaw[]) {
    if (r[2] === 0) rowCount.set(r[0], r[1] ?? 0);
    else if (r[2] === 1) held.add(r[0]);
    else Object.assign(control, { paused: r[2] === 3, reason: r[0] === '' ? null : r[0], policyVersion: r[1] ?? 0 });
  }
  const now = new Map<string, Locked>();
  const rowsOfKey = new Map<string, string[]>();
  for (const r of locked.rows as unknown as LockedRaw[]) {
    const row: Locked = { id: r[0], fileKey: r[1], purpose: r[2] ?? '', createdAtMs: r[3] ?? Number.NaN, expiresAtMs: r[4] ?? Number.NaN, named: r[5] };
    now.set(row.id, row);
    const list = rowsOfKey.get(row.fileKey);
    if (list) list.push(row.id);
    else rowsOfKey.set(row.fileKey, [row.id]);
  }
  const empty = { control, deletable: [], keys: [], kept: [], vanished: [], extra: [], detached: [], requestKept: [] };
  if (open.rows.length === 0) return { ...empty, closed: true };
  const erasable = (r: Locked): boolean => r.named && !ctx.retainedUnder.has(r.purpose);
  // A key keeps its file when held, or when a row at it is not ours to erase (or not locked by us).
  const fileStays = new Set<string>();
  for (const key of keys) {
    const ids = rowsOfKey.get(key) ?? [];
    if (held.has(key) || (rowCount.get(key) ?? 0) > ids.length || ids.some((id) => !erasable(now.get(id)!))) fileStays.add(key);
  }
  const deletable: ExpiredRow[] = [];
  const detached: ExpiredRow[] = [];
  const requestKept: RequestKept[] = [];
  const vanished: ExpiredRow[] = [];
  const erasing = new Set<string>();
  for (const b of batch) {
    const r = now.get(b.id);
    if (!r) {
      // Gone, or locked by another transaction (not seen by SKIP LOCKED): both keep the file here.
      vanished.push(b);
      continue;
    }
    const row = plain(r);
    const statute = ctx.retainedUnder.get(r.purpose);
    if (!r.named || r.fileKey !== b.fileKey) requestKept.push({ row: b, reason: 'changed' });
    // No policy for its purpose (or no usable created_at): no statute can be ruled out, so it is
    // refused, never erased; the request stays open for an operator (docs/rights.md).
    else if (!Number.isFinite(r.expiresAtMs)) requestKept.push({ row, reason: 'unjudged' });
    else if (statute !== undefined) requestKept.push({ row, reason: 'retained', statute });
    else if (held.has(r.fileKey)) requestKept.push({ row, reason: 'held' });
    else if (fileStays.has(r.fileKey)) detached.push(row);
    else {
      deletable.push(row);
      erasing.add(r.fileKey);
    }
  }
  const inBatch = new Set(batch.map((b) => b.id));
  const extra: ExpiredRow[] = [];
  for (const key of erasing) for (const id of rowsOfKey.get(key)!) if (!inBatch.has(id)) extra.push(plain(now.get(id)!));
  return { control, deletable, keys: [...erasing], kept: [], vanished, extra, detached, requestKept, closed: false };
}

const plain = (r: Locked): ExpiredRow => ({ id: r.id, fileKey: r.fileKey, purpose: r.purpose, createdAtMs: r.createdAtMs, expiresAtMs: r.expiresAtMs });
