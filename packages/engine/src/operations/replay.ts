import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { writeAudit } from '../db/tables/audit.js';
import { inspectJobsTable, type JobsTable } from '../db/jobs-table.js';
import { ConfigError } from '../errors.js';
import { checkForRestore, journalNames, markChecked, readJournalObject, recordedEntries } from '../journal/detect.js';
import { journalNameTime, type JournalEntry } from '../journal/entries.js';
import type { JournalStore } from '../journal/store.js';
import type { ResolvedOptions } from '../options.js';
import { LEDGER_KEY_PREFIX, ledgerKeyFunction, type LedgerKeyFn } from '../policy/ledger-keys.js';
import type { Queryable } from '../db/pool.js';
import type { StoragePort } from '../ports.js';
import { heldKeysNow, withHoldsLocked } from '../run/keep/hold-guard.js';
import { acquireRunLock } from '../run/lock.js';
import { checkKey } from '../storage/keys.js';
import { isReservedKey } from '../storage/trash-keys.js';
import { writeReplayedLedger, type ReplayedRow } from './replay-ledger.js';

export interface ReplayDeps {
  readonly pool: pg.Pool;
  readonly storage: StoragePort;
  readonly options: ResolvedOptions;
  readonly journal: JournalStore;
}

export interface ReplayOptions {
  /** Only entries erased at or after this instant (ISO 8601): the backup's time. */
  readonly since?: string;
  readonly dryRun?: boolean;
  readonly requestedBy?: string;
}

export interface ReplayCounts {
  /** Journal objects read, and their entries (at or after `since`). */
  objects: number;
  entries: number;
  /** Entries the ledger still holds: not lost by a restore, nothing to redo. */
  recorded: number;
  /** Re-erased: the row was back (and its file, if it was back too). */
  redone_rows: number;
  /** Re-erased: only the file was back (plain ledger keys only). */
  redone_files: number;
  /** The row was re-erased but its file kept: another live row refers to the key now. */
  kept_shared: number;
  /** Kept: a legal hold is on the key now (placed after the restore; holds win). */
  held: number;
  /** Untouched: the row at this id differs (another created_at or key), or a new row uses the key. */
  newer: number;
  /** Nothing came back (or, with HMAC keys, only a file nobody can name: see docs). */
  not_back: number;
  /** Unsafe keys (outside the root, under .lethe/): never acted on. */
  refused: number;
  /** The delete failed: the row is kept and the journal object stays unsettled for the next replay. */
  failed: number;
}

export interface ReplayReport {
  readonly replay_id: string;
  readonly run_id: string;
  readonly dry_run: boolean;
  readonly since: string | null;
  readonly journal: string;
  readonly counts: ReplayCounts;
  /** Job ids re-erased (or that would be, in a dry run); at most 1000. */
  readonly redone: readonly string[];
  /** A detected restore is cleared (not in a dry run, and only when nothing failed and no older entry is still ahead). */
  readonly restore_detected: boolean;
  readonly finished_at: string;
}

const REDONE_CAP = 1000;

function zero(): ReplayCounts {
  return { objects: 0, entries: 0, recorded: 0, redone_rows: 0, redone_files: 0, kept_shared: 0, held: 0, newer: 0, not_back: 0, refused: 0, failed: 0 };
}

function parseSince(since: string | undefined): number | null {
  if (since === undefined) return null;
  const ms = Date.parse(since);
  if (!/^\d{4}-\d{2}-\d{2}/.test(since) || !Number.isFinite(ms))
    throw new ConfigError(`since: expected an ISO 8601 time like 2026-11-26T02:00:00Z (the backup's time), got ${JSON.stringify(since)}`);
  return ms;
}

/**
 * `lethe replay` (docs/safety.md#erasures-survive-a-backup-restore): re-erases what the journal says was erased and the
 * restored database or storage holds again. Takes the run lock (no run overlaps it). An entry is
 * redone only when the ledger lacks it and the row at its id is the same row (same created_at,
 * same hashed key); a legal hold on the key wins; a row created after the erasure (a new document
 * at a reused id or key) is never touched, nor its file. Deletes go the engine's way: keys checked
 * inside the root, rows locked FOR UPDATE (the key guard), holds locked, storage, then rows and
 * ledger rows (`replayed`) in the same transaction.
 */
export async function replayJournal(deps: ReplayDeps, o: ReplayOptions = {}): Promise<ReplayReport> {
  const sinceMs = parseSince(o.since);
  const dryRun = o.dryRun === true;
  const { pool, options } = deps;
  const lock = await acquireRunLock(pool, { waitMs: options.lockWaitMs, clock: options.clock });
  try {
    const table = await inspectJobsTable(pool, options.jobs);
    const runId = randomUUID();
    const since = sinceMs === null ? null : new Date(sinceMs).toISOString();
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO lethe_journal_replays (run_id, since, dry_run, requested_by) VALUES ($1, $2, $3, $4) RETURNING id::text`,
      [runId, since, dryRun, o.requestedBy ?? null],
    );
    const replayId = rows[0]!.id;
    const counts = zero();
    const redone: string[] = [];
    const ctx: ObjectContext = { deps, table, runId, dryRun, ledgerKey: ledgerKeyFunction(options.ledgerKeyHmacSecret), counts, redone };
    const settled: string[] = [];
    for (const name of await journalNames(deps.journal)) {
      // An object is written after its batch's erasures: one named before `since` holds none after it.
      if (sinceMs !== null && (journalNameTime(name) ?? 0) < sinceMs) continue;
      const entries = (await readJournalObject(deps.journal, name)).filter((e) => sinceMs === null || Date.parse(e.erased_at) >= sinceMs);
      counts.objects += 1;
      counts.entries += entries.length;
      if (await replayObject(ctx, name, entries)) settled.push(name);
    }
    let detected: boolean;
    if (!dryRun) {
      await markChecked(pool, settled, replayId);
      if (counts.failed === 0) await pool.query(`UPDATE lethe_journal_restores SET cleared_at = now(), replay_id = $1 WHERE cleared_at IS NULL`, [replayId]);
      // Objects before `since` (or that failed) that are still ahead open the detection again.
      detected = (await checkForRestore(pool, deps.journal)).detected;
    } else detected = (await checkForRestore(pool, deps.journal)).detected;
    const fin = await pool.query<{ at: string }>(
      `UPDATE lethe_journal_replays SET finished_at = now(), counts = $2::jsonb WHERE id = $1
       RETURNING to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at`,
      [replayId, JSON.stringify(counts)],
    );
    const report: ReplayReport = {
      replay_id: replayId,
      run_id: runId,
      dry_run: dryRun,
      since,
      journal: deps.journal.describe,
      counts,
      redone,
      restore_detected: detected,
      finished_at: fin.rows[0]!.at,
    };
    await writeAudit(pool, dryRun ? 'cleanup_journal_replay_dry_run' : 'cleanup_journal_replayed', { ...report, redone: redone.length });
    return report;
  } finally {
    await lock.release();
  }
}

interface ObjectContext {
  readonly deps: ReplayDeps;
  readonly table: JobsTable;
  readonly runId: string;
  readonly dryRun: boolean;
  readonly ledgerKey: LedgerKeyFn;
  readonly counts: ReplayCounts;
  readonly redone: string[];
}

/** A lost entry that may be redone: its row (the same row) or, with plain keys, its file by key. */
interface Candidate {
  readonly entry: JournalEntry;
  readonly key: string;
  readonly hasRow: boolean;
}

interface LiveRow {
  readonly id: string;
  readonly fileKey: string | null;
  readonly createdMs: number | null;
}

async function liveRows(db: Queryable, t: JobsTable, ids: readonly string[], forUpdate: boolean): Promise<Map<string, LiveRow>> {
  if (ids.length === 0) return new Map();
  const { rows } = await db.query<{ id: string; file_key: string | null; created_ms: number | null }>(
    `SELECT j.${t.id}::text AS id, j.${t.fileKey} AS file_key, (extract(epoch FROM j.${t.createdAt}) * 1000)::float8 AS created_ms
       FROM ${t.table} j WHERE j.${t.id} = ANY($1::text[]::${t.idType}[])${forUpdate ? ' FOR UPDATE' : ''}`,
    [ids],
  );
  return new Map(rows.map((r) => [r.id, { id: r.id, fileKey: r.file_key, createdMs: r.created_ms }]));
}

/** Keys (of these) that a live row other than `ids` refers to: the file is that row's now. */
async function keysInUse(db: Queryable, t: JobsTable, keys: readonly string[], ids: readonly string[], forUpdate: boolean): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const { rows } = await db.query<{ k: string }>(
    `SELECT j.${t.fileKey} AS k FROM ${t.table} j
      WHERE j.${t.fileKey} = ANY($1::text[]) AND NOT (j.${t.id}::text = ANY($2::text[]))${forUpdate ? ' FOR UPDATE' : ''}`,
    [keys, ids],
  );
  return new Set(rows.map((r) => r.k));
}

/** Sorts lost entries: the same row back, a file back by key, or leave alone. */
function candidatesOf(ctx: ObjectContext, lost: readonly JournalEntry[], rows: ReadonlyMap<string, LiveRow>): Candidate[] {
  const out: Candidate[] = [];
  for (const entry of lost) {
    const row = rows.get(entry.job_id);
    if (row) {
      // Never a row created after the erasure: same id is not enough, created_at and key must match.
      if (row.fileKey !== null && row.createdMs === entry.created_ms && ctx.ledgerKey(row.fileKey) === entry.key)
        out.push({ entry, key: row.fileKey, hasRow: true });
      else ctx.counts.newer += 1;
    } else if (entry.key.startsWith(LEDGER_KEY_PREFIX)) {
      // With HMAC keys the journal cannot name a file whose row did not come back.
      ctx.counts.not_back += 1;
    } else out.push({ entry, key: entry.key, hasRow: false });
  }
  return out;
}

/** Returns whether the object is settled (nothing failed). */
async function replayObject(ctx: ObjectContext, name: string, entries: readonly JournalEntry[]): Promise<boolean> {
  if (entries.length === 0) return true;
  const { pool } = ctx.deps;
  const recorded = await recordedEntries(pool, entries);
  ctx.counts.recorded += recorded.size;
  const lost = entries.filter((e) => !recorded.has(e));
  if (lost.length === 0) return true;
  if (ctx.dryRun) {
    await judge(ctx, pool, name, lost, false);
    return true;
  }
  const failedBefore = ctx.counts.failed;
  await withHoldsLocked(pool, (client) => judge(ctx, client, name, lost, true));
  return ctx.counts.failed === failedBefore;
}

/** Under row locks and the holds lock (or read-only in a dry run): decide, delete, record. */
async function judge(ctx: ObjectContext, db: Queryable, name: string, lost: readonly JournalEntry[], act: boolean): Promise<void> {
  const { table: t, counts } = ctx;
  const rows = await liveRows(
    db,
    t,
    lost.map((e) => e.job_id),
    act,
  );
  let candidates = candidatesOf(ctx, lost, rows);
  candidates = candidates.filter((c) => {
    if (checkKey(c.key) === null && !isReservedKey(c.key)) return true;
    counts.refused += 1;
    return false;
  });
  const keys = [...new Set(candidates.map((c) => c.key))];
  const held = await heldKeysNow(db, keys);
  const rowIds = candidates.filter((c) => c.hasRow).map((c) => c.entry.job_id);
  const inUse = await keysInUse(db, t, keys, rowIds, act);
  const toDelete: Candidate[] = [];
  const unlinked: Candidate[] = [];
  for (const c of candidates) {
    if (held.has(c.key)) counts.held += 1;
    else if (inUse.has(c.key)) {
      // A new document at the key: its file stays; a restored old row of it is still erased.
      if (c.hasRow) unlinked.push(c);
      else counts.newer += 1;
    } else toDelete.push(c);
  }
  const rowOnly = await filesBack(ctx, toDelete);
  if (!act) {
    for (const c of toDelete) {
      if (c.hasRow) counts.redone_rows += 1;
      else if (rowOnly.has(c)) counts.not_back += 1;
      else counts.redone_files += 1;
      if (c.hasRow || !rowOnly.has(c)) note(ctx, c.entry.job_id);
    }
    counts.kept_shared += unlinked.length;
    for (const c of unlinked) note(ctx, c.entry.job_id);
    return;
  }
  const fileKeys = [...new Set(toDelete.filter((c) => c.hasRow || !rowOnly.has(c)).map((c) => c.key))];
  const outcomes = new Map((fileKeys.length === 0 ? [] : await ctx.deps.storage.deleteMany(fileKeys)).map((r) => [r.key, r]));
  const replayed: ReplayedRow[] = [];
  for (const c of toDelete) {
    if (!c.hasRow && rowOnly.has(c)) {
      counts.not_back += 1;
      continue;
    }
    const r = outcomes.get(c.key);
    if (!r || r.outcome === 'failed' || r.outcome === 'refused') {
      if (r?.outcome === 'refused') counts.refused += 1;
      else counts.failed += 1;
      continue;
    }
    replayed.push({ entry: c.entry, file: r.outcome === 'erased' ? 'erased' : 'absent', object: name });
    if (c.hasRow) counts.redone_rows += 1;
    else counts.redone_files += 1;
    note(ctx, c.entry.job_id);
  }
  for (const c of unlinked) {
    replayed.push({ entry: c.entry, file: 'kept_shared', object: name });
    counts.kept_shared += 1;
    note(ctx, c.entry.job_id);
  }
  const removeIds = replayed.filter((r) => rows.has(r.entry.job_id)).map((r) => r.entry.job_id);
  if (removeIds.length > 0) await db.query(`DELETE FROM ${t.table} WHERE ${t.id} = ANY($1::text[]::${t.idType}[])`, [removeIds]);
  await writeReplayedLedger(db, ctx.runId, replayed);
}

/** Of the file-only candidates, those whose file is not back (nothing to do for them). */
async function filesBack(ctx: ObjectContext, candidates: readonly Candidate[]): Promise<Set<Candidate>> {
  const absent = new Set<Candidate>();
  for (const c of candidates) {
    if (c.hasRow) continue;
    if ((await ctx.deps.storage.stat(c.key)) === null) absent.add(c);
  }
  return absent;
}

function note(ctx: ObjectContext, id: string): void {
  if (ctx.redone.length < REDONE_CAP) ctx.redone.push(id);
}
