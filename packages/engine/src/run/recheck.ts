import type { Queryable } from '../db/pool.js';
import type { PurposeSelection } from './source.js';
import type { JobsTable } from '../db/jobs-table.js';
import type { ExpiredRow } from '../ports.js';
import { policyArrays } from '../db/arrays.js';

/**
 * The re-check that makes a batch's delete safe while the platform writes `jobs` (docs/safety.md#races).
 * It runs in the transaction that will remove the rows, right before the storage call, after
 * every wait (rate limiter, batches in flight): what the source read earlier is stale by then.
 *
 * 1. Every row that refers to a batch key is locked FOR UPDATE SKIP LOCKED, with its committed
 *    state. We never wait on a row, so we never deadlock with writers; a row someone else holds
 *    keeps its key for this run. The locks last until the commit, after the storage call, so a
 *    re-classification or delete of those rows waits for us, and a guarded insert at the key
 *    (keep/key-guard.ts) waits too, then fails with 40001.
 * 2. In a fresh snapshot after the locks: rows per key (more than we locked: keep the key), active
 *    holds (`lethe hold` locks a row of the key too, so it is either seen here or waits for us), and
 *    the control row FOR SHARE (a pause committed before is seen; a later one waits for our commit).
 *
 * A key is erased only when a row of this batch still refers to it and every row that refers to
 * it is locked by us, expired now, of a purpose this run selects, and not held. Rows of other
 * batches that share such a key go with it (their own batch later finds them gone), so a
 * re-classification that comes after this commit finds no row rather than a live row whose file
 * is gone.
 */
export interface RecheckContext {
  readonly table: JobsTable;
  /** Every policy of the run's version (for judging rows that share a key). */
  readonly policies: readonly PurposeSelection[];
  /** Purposes this run erases (a `--purpose` run leaves the others' rows and keys alone). */
  readonly selectedPurposes: ReadonlySet<string>;
  readonly cutoff: string;
}

export interface ControlCheck {
  readonly paused: boolean;
  readonly reason: string | null;
  readonly policyVersion: number;
}

export type KeptReason = 'held' | 'shared' | 'changed';

export interface RecheckedBatch {
  /** Pause state and current policy version, read under the control row's share lock. */
  readonly control: ControlCheck;
  /** Rows to erase, as committed now (purpose, created_at, expiry re-read under lock). */
  readonly deletable: ExpiredRow[];
  /** Distinct keys of `deletable`, in first-seen order. */
  readonly keys: string[];
  /** Batch rows kept, each with why. */
  readonly kept: { readonly row: ExpiredRow; readonly reason: KeptReason }[];
  /** Batch rows that no longer exist (someone removed them while the batch waited). */
  readonly vanished: ExpiredRow[];
  /** Rows of other batches removed with this one (they share a key erased here). */
  readonly extra: ExpiredRow[];
}

/** Row shape of the lock statement: id, key, purpose, created ms, expires ms, expired. */
type LockedRaw = [string, string, string | null, number | null, number | null, boolean];
/** Row shape of the state statement: key or pause reason, a number, kind (0 rows of a key, 1 held, 2 running, 3 paused). */
type StateRaw = [string, number | null, number];

/**
 * Statement 1: lock every row that refers to a batch key, never waiting (SKIP LOCKED), and read
 * its committed state (FOR UPDATE re-reads a row another transaction changed meanwhile).
 */
export function lockRowsSql(t: JobsTable): string {
  const created = `j.${t.createdAt}`;
  return `SELECT j.${t.id}::text, j.${t.fileKey}::text, j.${t.purpose}::text,
       (extract(epoch FROM ${created}) * 1000)::float8,
       (extract(epoch FROM ${created} + p.retention) * 1000)::float8,
       coalesce(isfinite(${created}) AND ${created} + p.retention < ${t.toColumnTime('$4::timestamptz')}, false)
  FROM ${t.table} j LEFT JOIN unnest($2::text[], $3::interval[]) AS p(purpose, retention) ON p.purpose = j.${t.purpose}
 WHERE j.${t.fileKey} = ANY($1::text[])
   FOR UPDATE OF j SKIP LOCKED`;
}

/**
 * Statement 2, in a fresh snapshot taken after the locks: how many rows refer to each key now
 * (more than we locked: a row another transaction holds or just committed), the active holds,
 * and the pause state and current policy version (the control row FOR SHARE: a pause committed
 * before is seen; one that comes later waits for this batch's commit).
 */
export function keyStateSql(t: JobsTable): string {
  return `SELECT j.${t.fileKey}::text, count(*)::int, 0 FROM ${t.table} j WHERE j.${t.fileKey} = ANY($1::text[]) GROUP BY 1
UNION ALL
SELECT DISTINCT h.file_key, NULL::int, 1 FROM lethe_holds h
 WHERE h.file_key = ANY($1::text[]) AND h.released_at IS NULL AND (h.until IS NULL OR h.until > now())
UNION ALL
SELECT coalesce(c.reason, ''), (SELECT max(version) FROM lethe_policy_versions)::int, CASE WHEN c.paused THEN 3 ELSE 2 END
  FROM (SELECT paused, reason FROM lethe_control WHERE id = 1 FOR SHARE) c`;
}

export interface RecheckSql {
  readonly lockRows: string;
  readonly keyState: string;
  /** Which of some ids still exist (rows we could not lock are told apart from rows that are gone). */
  readonly existing: string;
}

export function recheckSql(t: JobsTable): RecheckSql {
  return {
    lockRows: lockRowsSql(t),
    keyState: keyStateSql(t),
    existing: `SELECT j.${t.id}::text FROM ${t.table} j WHERE j.${t.id} = ANY($1::text[]::${t.idType}[])`,
  };
}

/** On the batch's transaction, right before the storage call. */
export async function recheckBatch(db: Queryable, sql: RecheckSql, ctx: RecheckContext, batch: readonly ExpiredRow[]): Promise<RecheckedBatch> {
  const batchKeys = distinctKeys(batch);
  const locked = await db.query<LockedRaw>({
    text: sql.lockRows,
    values: [batchKeys, ...policyArrays(ctx.policies), ctx.cutoff],
    rowMode: 'array',
  });
  const state = await db.query<StateRaw>({ text: sql.keyState, values: [batchKeys], rowMode: 'array' });
  const control: ControlCheck = { paused: false, reason: null, policyVersion: 0 };
  const rowCount = new Map<string, number>();
  const blocked = new Map<string, KeptReason>();
  for (const r of state.rows as unknown as StateRaw[]) {
    if (r[2] === 0) rowCount.set(r[0], r[1] ?? 0);
    else if (r[2] === 1) blocked.set(r[0], 'held');
    else Object.assign(control, { paused: r[2] === 3, reason: r[0] === '' ? null : r[0], policyVersion: r[1] ?? 0 });
  }
  const now = new Map<string, ExpiredRow & { readonly expired: boolean }>();
  const rowsOfKey = new Map<string, string[]>();
  for (const r of locked.rows as unknown as LockedRaw[]) {
    const row = { id: r[0], fileKey: r[1], purpose: r[2] ?? '', createdAtMs: r[3] ?? Number.NaN, expiresAtMs: r[4] ?? Number.NaN, expired: r[5] };
    now.set(row.id, row);
    const list = rowsOfKey.get(row.fileKey);
    if (list) list.push(row.id);
    else rowsOfKey.set(row.fileKey, [row.id]);
  }
  const inBatch = new Set<string>();
  for (const b of batch) inBatch.add(b.id);
  for (const key of batchKeys) {
    if (blocked.has(key)) continue;
    const ids = rowsOfKey.get(key) ?? [];
    // A row we could not lock (another transaction writes it, or committed it after our locks).
    if ((rowCount.get(key) ?? 0) > ids.length) {
      blocked.set(key, 'shared');
      continue;
    }
    for (const id of ids) {
      const r = now.get(id)!;
      if (!r.expired || !ctx.selectedPurposes.has(r.purpose)) {
        blocked.set(key, inBatch.has(id) ? 'changed' : 'shared');
        break;
      }
    }
  }
  const deletable: ExpiredRow[] = [];
  const kept: { row: ExpiredRow; reason: KeptReason }[] = [];
  let missing: ExpiredRow[] = [];
  const erasing = new Set<string>();
  for (const b of batch) {
    const r = now.get(b.id);
    if (!r) missing.push(b);
    else {
      const row: ExpiredRow = { id: r.id, fileKey: r.fileKey, purpose: r.purpose, createdAtMs: r.createdAtMs, expiresAtMs: r.expiresAtMs };
      const why = blocked.get(r.fileKey);
      if (why === undefined && r.fileKey === b.fileKey) {
        deletable.push(row);
        erasing.add(r.fileKey);
      } else kept.push({ row: r.expired ? row : b, reason: r.expired && r.fileKey === b.fileKey ? why! : 'changed' });
    }
  }
  // Rows we did not get: gone, or held by another transaction (kept, as changing).
  if (missing.length > 0) {
    const { rows } = await db.query<{ id: string }>(sql.existing, [missing.map((m) => m.id)]);
    const stillThere = new Set(rows.map((r) => r.id));
    for (const m of missing) if (stillThere.has(m.id)) kept.push({ row: m, reason: 'changed' });
    missing = missing.filter((m) => !stillThere.has(m.id));
  }
  const extra: ExpiredRow[] = [];
  for (const key of erasing) {
    for (const id of rowsOfKey.get(key)!) {
      if (inBatch.has(id)) continue;
      const r = now.get(id)!;
      extra.push({ id: r.id, fileKey: r.fileKey, purpose: r.purpose, createdAtMs: r.createdAtMs, expiresAtMs: r.expiresAtMs });
    }
  }
  return { control, deletable, keys: [...erasing], kept, vanished: missing, extra };
}

export function distinctKeys(rows: readonly ExpiredRow[]): string[] {
  return [...new Set(rows.map((r) => r.fileKey))];
}
