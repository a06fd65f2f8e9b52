import type { Engine } from '../engine.js';
import { ConfigError, describeError } from '../errors.js';
import { listHolds } from '../db/tables/holds.js';
import { inspectJobsTable } from '../db/jobs-table.js';
import { ledgerKeyFor } from '../policy/ledger-keys.js';
import { retentionToInterval } from '../policy/retention.js';
import { loadCurrentPolicies } from '../db/tables/policy-versions.js';
import type { UnreadableReason } from '../run/summary.js';
import { databaseNow, policySelections } from './plan.js';

/**
 * Runbook FM-003 ("my document was deleted too early") as one call: what Lethe knows about a
 * file key. The ledger says when, by which run, under which purpose and policy version it was
 * erased and how long after its expiry; the jobs table says which rows still refer to it and
 * when they expire under the current policy; storage says whether the file is there now.
 */

/** How many ledger entries and rows a lookup returns (a key normally has one or two). */
const MAX_ENTRIES = 20;

export interface LedgerEntry {
  readonly run_id: string;
  readonly run_trigger: string | null;
  readonly job_id: string;
  readonly purpose: string | null;
  readonly outcome: string;
  readonly error_code: string | null;
  readonly error: string | null;
  readonly created_at: string | null;
  readonly expires_at: string | null;
  readonly erased_at: string;
  readonly policy_version: number | null;
  /** The purpose's retention in that policy version. */
  readonly retention: string | null;
  /** `erased_at - expires_at`: how long after expiry the file went (negative never happens). */
  readonly after_expiry_seconds: number | null;
}

export interface JobRowState {
  readonly job_id: string;
  readonly purpose: string | null;
  readonly created_at: string | null;
  /** The purpose's retention in the current policy; null when no policy judges the row. */
  readonly retention: string | null;
  readonly expires_at: string | null;
  readonly expired: boolean;
  /** Negative once expired (the row is overdue by that much). */
  readonly expires_in_seconds: number | null;
  /** Why no expiry can be given, when none can. */
  readonly unjudged_reason: UnreadableReason | null;
}

export interface StorageState {
  /** False when no storage is configured, or the key is one storage refuses to look at. */
  readonly checked: boolean;
  readonly exists: boolean | null;
  readonly size?: number;
  readonly modified_at?: string;
  readonly error?: { readonly code: string; readonly message: string };
}

/**
 * - `erased`: no row refers to the key any more and the ledger records it erased (or found gone)
 * - `retained`: rows refer to it and none is expired yet
 * - `expired`: a row is expired and waits for the next run (see `verify` for how overdue)
 * - `orphan_file`: in storage with no row and no ledger entry (see `reconcile`)
 * - `held`: under an active legal hold: runs keep the file and its rows, expired or not
 * - `unknown`: Lethe has never seen it and storage does not have it
 */
export type LookupState = 'erased' | 'retained' | 'expired' | 'held' | 'orphan_file' | 'unknown';

/** An active legal hold on the key (`lethe holds`). */
export interface LookupHold {
  readonly id: string;
  readonly reason: string;
  readonly created_by: string;
  readonly created_at: string;
  readonly until: string | null;
}

export interface LookupResult {
  readonly file_key: string;
  readonly checked_at: string;
  readonly state: LookupState;
  readonly policy_version: number;
  /** Newest first. */
  readonly ledger: readonly LedgerEntry[];
  readonly ledger_truncated: boolean;
  readonly rows: readonly JobRowState[];
  readonly rows_truncated: boolean;
  readonly storage: StorageState;
  /** Active holds on the key, newest first. */
  readonly holds: readonly LookupHold[];
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(Number(ms)).toISOString());

export async function lookupFileKey(engine: Engine, fileKey: string): Promise<LookupResult> {
  if (typeof fileKey !== 'string' || fileKey === '') throw new ConfigError('file_key: expected a non-empty file key like "uploads/2025/11/invoice.pdf"');
  const db = engine.pool;
  const table = await inspectJobsTable(db, engine.options.jobs);
  const policy = await loadCurrentPolicies(db);
  const now = await databaseNow(db);
  const selections = policySelections(policy.policies);
  const [ledger, rows, storage, holds] = await Promise.all([
    db.query<{
      run_id: string;
      trigger: string | null;
      job_id: string;
      purpose_code: string | null;
      outcome: string;
      error_code: string | null;
      error: string | null;
      created_ms: number | null;
      expires_ms: number | null;
      erased_at: Date;
      policy_version: number | null;
      retention: string | null;
      after_s: number | null;
    }>(
      `SELECT l.run_id::text, r.trigger, l.job_id, l.purpose_code, l.outcome, l.error_code, l.error,
              (extract(epoch FROM l.created_at) * 1000)::float8 AS created_ms, (extract(epoch FROM l.expires_at) * 1000)::float8 AS expires_ms,
              l.erased_at, l.policy_version, coalesce(v.policies -> l.purpose_code ->> 'retention', v.policies ->> l.purpose_code) AS retention,
              extract(epoch FROM l.erased_at - l.expires_at)::float8 AS after_s
         FROM lethe_ledger l
         LEFT JOIN lethe_runs r ON r.id = l.run_id
         LEFT JOIN lethe_policy_versions v ON v.version = l.policy_version
        WHERE l.file_key = $1
        ORDER BY l.erased_at DESC, l.id DESC
        LIMIT ${MAX_ENTRIES + 1}`,
      // HMAC mode (docs/safety.md#proof-without-personal-data-hmac-keys): the ledger holds the key's keyed hash; look it up the same way.
      [ledgerKeyFor(engine.options, fileKey)],
    ),
    db.query<{
      id: string;
      purpose: string | null;
      created_ms: number | null;
      expires_ms: number | null;
      expired: boolean | null;
      known: boolean;
      infinite: boolean;
    }>(
      // Infinite created_at is not judged (run/source.ts finiteCreatedAtSql): no times, not expired.
      `SELECT j.${table.id}::text AS id, j.${table.purpose}::text AS purpose,
              CASE WHEN isfinite(j.${table.createdAt}) THEN (extract(epoch FROM j.${table.createdAt}) * 1000)::float8 END AS created_ms,
              CASE WHEN isfinite(j.${table.createdAt}) THEN (extract(epoch FROM j.${table.createdAt} + p.retention) * 1000)::float8 END AS expires_ms,
              isfinite(j.${table.createdAt}) AND j.${table.createdAt} + p.retention < ${table.toColumnTime('$4::timestamptz')} AS expired,
              p.purpose IS NOT NULL AS known, coalesce(NOT isfinite(j.${table.createdAt}), false) AS infinite
         FROM ${table.table} j
         LEFT JOIN unnest($2::text[], $3::interval[]) AS p(purpose, retention) ON p.purpose = j.${table.purpose}
        WHERE j.${table.fileKey} = $1
        ORDER BY j.${table.createdAt} NULLS FIRST
        LIMIT ${MAX_ENTRIES + 1}`,
      [fileKey, selections.map((s) => s.purpose), selections.map((s) => s.interval), now],
    ),
    storageState(engine, fileKey),
    listHolds(db, { fileKey, activeOnly: true, limit: MAX_ENTRIES }),
  ]);
  const nowMs = Date.parse(now);
  const ledgerEntries = ledger.rows.slice(0, MAX_ENTRIES).map((l): LedgerEntry => ({
    run_id: l.run_id,
    run_trigger: l.trigger,
    job_id: l.job_id,
    purpose: l.purpose_code,
    outcome: l.outcome,
    error_code: l.error_code,
    error: l.error,
    created_at: iso(l.created_ms),
    expires_at: iso(l.expires_ms),
    erased_at: l.erased_at.toISOString(),
    policy_version: l.policy_version,
    retention: l.retention,
    after_expiry_seconds: l.after_s === null ? null : Math.round(l.after_s),
  }));
  const rowStates = rows.rows.slice(0, MAX_ENTRIES).map((r): JobRowState => {
    const retention = r.known && r.purpose !== null ? retentionToInterval(policy.policies[r.purpose]!) : null;
    return {
      job_id: r.id,
      purpose: r.purpose,
      created_at: iso(r.created_ms),
      retention,
      expires_at: iso(r.expires_ms),
      expired: r.expired === true,
      expires_in_seconds: r.expires_ms === null ? null : Math.round((r.expires_ms - nowMs) / 1000),
      unjudged_reason: !r.known ? 'unknown_purpose' : r.infinite ? 'infinite_created_at' : r.created_ms === null ? 'null_created_at' : null,
    };
  });
  return {
    file_key: fileKey,
    checked_at: now,
    policy_version: policy.version,
    state: holds.length > 0 ? 'held' : lookupState(ledgerEntries, rowStates, storage),
    ledger: ledgerEntries,
    ledger_truncated: ledger.rows.length > MAX_ENTRIES,
    rows: rowStates,
    rows_truncated: rows.rows.length > MAX_ENTRIES,
    storage,
    holds: holds.map((h) => ({ id: h.id, reason: h.reason, created_by: h.createdBy, created_at: h.createdAt, until: h.until })),
  };
}

const GONE = new Set(['erased', 'absent', 'trashed', 'purged', 'reerased']);

export function lookupState(ledger: readonly LedgerEntry[], rows: readonly JobRowState[], storage: StorageState): LookupState {
  if (rows.some((r) => r.expired)) return 'expired';
  if (rows.length > 0) return 'retained';
  // Undo window (docs/safety.md#undo-window-default-off): `trashed` also removed the row and moved the file off its key.
  if (ledger.some((l) => GONE.has(l.outcome))) return 'erased';
  if (storage.exists === true) return 'orphan_file';
  return 'unknown';
}

async function storageState(engine: Engine, key: string): Promise<StorageState> {
  if (engine.options.storage === null)
    return {
      checked: false,
      exists: null,
      error: { code: 'LETHE_E_CONFIG', message: 'no storage configured (LETHE_STORAGE); the file itself was not checked' },
    };
  try {
    const info = await engine.storage().stat(key);
    return info ? { checked: true, exists: true, size: info.size, modified_at: new Date(info.modifiedMs).toISOString() } : { checked: true, exists: false };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return { checked: false, exists: null, error: { code: typeof code === 'string' ? code : 'LETHE_E_STORAGE', message: describeError(error) } };
  }
}
