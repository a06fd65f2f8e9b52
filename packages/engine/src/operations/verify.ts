import type { Engine } from '../engine.js';
import { describeError } from '../errors.js';
import { readExpiredRows } from '../run/source.js';
import { inspectJobsTable } from '../db/jobs-table.js';
import { loadCurrentPolicies } from '../db/tables/policy-versions.js';
import type { ExpiredRow, ObjectInfo, StoragePort } from '../ports.js';
import { ledgerKeyFor } from '../policy/ledger-keys.js';
import { keysToKeep } from '../run/keep/shared-keys.js';
import type { UnreadableRows } from '../run/summary.js';
import { findUnreadableRows } from '../run/unreadable.js';
import type { Queryable } from '../db/pool.js';
import { fixForCode } from './failure-fixes.js';
import { databaseNow, policySelections } from './plan.js';
import { mapLimit } from '../storage/map-limit.js';

/**
 * Runbook OP-005 as one operation: expired rows whose files still exist, and how overdue each is.
 * Rows stream through the run's own cursor (same selection, same index range); each batch's
 * distinct keys are stat'ed with a bound on stats in flight. Memory holds one batch plus the
 * `maxFindings` most overdue files, whatever the backlog.
 */

export const DEFAULT_VERIFY_GRACE_MS = 86_400_000;

export interface VerifyOptions {
  /** A present file is flagged once it is overdue by more than this (default 24 h). */
  readonly graceMs?: number;
  /** Only rows expired before this instant (ISO); default (and at most) the database's now. */
  readonly expiredBefore?: string;
  /** Stats in flight (default 32). */
  readonly concurrency?: number;
  /** The most overdue present files kept in the report (default 1000). */
  readonly maxFindings?: number;
  readonly signal?: AbortSignal;
}

export interface VerifyFinding {
  readonly job_id: string;
  readonly file_key: string;
  readonly purpose: string;
  readonly created_at: string;
  readonly expires_at: string;
  readonly overdue_seconds: number;
  readonly past_grace: boolean;
  /** Set when the file failed in 2 or more runs: a rerun alone will not erase it; fix the cause. */
  readonly repeated_failure?: RepeatedFailure;
}

/** A file that failed in several runs: its last error and what to fix for that code. */
export interface RepeatedFailure {
  readonly runs: number;
  readonly last_error_code: string | null;
  readonly last_error: string | null;
  readonly last_failed_at: string;
  readonly fix: string;
}

/** A present file has failed in this many runs: it is not waiting for a run, something blocks it. */
export const REPEATED_FAILURE_RUNS = 2;

export interface VerifyCounts {
  /** Expired rows looked at. */
  checked: number;
  /** Their file is still in storage (and no live row needs it). */
  present: number;
  /** Their file is already gone: the next run removes the row (runbook FM-002 case 1). */
  absent: number;
  /** A live row still refers to the key, so the file is rightly kept (DESIGN invariant 3). */
  shared: number;
  /** Under an active legal hold (docs/safety.md#legal-holds): rightly kept. */
  held: number;
  /** The key could not be checked (unsafe key, storage error). */
  unverifiable: number;
  /** Present and overdue by more than the grace. */
  past_grace: number;
  worst_overdue_seconds: number | null;
}

export interface UnverifiableKey {
  readonly job_id: string;
  readonly file_key: string;
  readonly purpose: string;
  readonly code: string;
  readonly message: string;
}

export interface VerifyReport extends Readonly<VerifyCounts> {
  readonly checked_at: string;
  /** Rows expired before this instant were checked. */
  readonly expired_before: string;
  readonly grace_seconds: number;
  readonly storage: string;
  readonly policy_version: number;
  readonly by_purpose: Readonly<Record<string, Readonly<VerifyCounts>>>;
  /** Present files, most overdue first, at most `maxFindings`. */
  readonly findings: readonly VerifyFinding[];
  readonly findings_truncated: boolean;
  readonly unverifiable_samples: readonly UnverifiableKey[];
  readonly unreadable: readonly UnreadableRows[];
}

export type StatResult = { readonly info: ObjectInfo | null } | { readonly error: { readonly code: string; readonly message: string } };

/** Stats every key with at most `concurrency` in flight; a per-key failure is data, not a throw. */
export async function statAll(storage: StoragePort, keys: readonly string[], concurrency: number): Promise<Map<string, StatResult>> {
  const results = await mapLimit(keys, concurrency, async (key): Promise<StatResult> => {
    try {
      return { info: await storage.stat(key) };
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      return { error: { code: typeof code === 'string' ? code : 'LETHE_E_STORAGE', message: describeError(error) } };
    }
  });
  return new Map(keys.map((key, i) => [key, results[i]!]));
}

const emptyCounts = (): VerifyCounts => ({
  checked: 0,
  present: 0,
  absent: 0,
  shared: 0,
  held: 0,
  unverifiable: 0,
  past_grace: 0,
  worst_overdue_seconds: null,
});

/** Keeps the `cap` most overdue findings; sorts and trims only when twice over, so adding is O(1) amortised. */
class MostOverdue {
  #items: VerifyFinding[] = [];
  truncated = false;
  constructor(readonly cap: number) {}
  add(f: VerifyFinding): void {
    this.#items.push(f);
    if (this.#items.length >= 2 * Math.max(this.cap, 1)) this.#trim();
  }
  #trim(): void {
    this.#items.sort((a, b) => b.overdue_seconds - a.overdue_seconds);
    if (this.#items.length > this.cap) {
      this.#items.length = this.cap;
      this.truncated = true;
    }
  }
  list(): VerifyFinding[] {
    this.#trim();
    return this.#items;
  }
}

function tally(c: VerifyCounts, outcome: 'present' | 'absent' | 'shared' | 'held' | 'unverifiable', overdueSeconds: number, pastGrace: boolean): void {
  c.checked++;
  c[outcome]++;
  if (outcome !== 'present') return;
  if (pastGrace) c.past_grace++;
  if (c.worst_overdue_seconds === null || overdueSeconds > c.worst_overdue_seconds) c.worst_overdue_seconds = overdueSeconds;
}

export async function verifyExpired(engine: Engine, o: VerifyOptions = {}): Promise<VerifyReport> {
  const db = engine.pool;
  const graceMs = o.graceMs ?? DEFAULT_VERIFY_GRACE_MS;
  const storage = engine.storage();
  const table = await inspectJobsTable(db, engine.options.jobs);
  const policy = await loadCurrentPolicies(db);
  const now = await databaseNow(db);
  const nowMs = Date.parse(now);
  const before = o.expiredBefore !== undefined && Date.parse(o.expiredBefore) < nowMs ? new Date(Date.parse(o.expiredBefore)).toISOString() : now;
  const selections = policySelections(policy.policies);
  const total = emptyCounts();
  const byPurpose: Record<string, VerifyCounts> = {};
  const findings = new MostOverdue(o.maxFindings ?? 1000);
  const unverifiable: UnverifiableKey[] = [];
  const source = readExpiredRows(db, {
    table,
    purposes: selections,
    cutoff: before,
    batchSize: engine.options.batchSize,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  for await (const batch of source) {
    const keys = [...new Set(batch.map((r) => r.fileKey))];
    // Liveness is judged now: a key a row still needs today is rightly present.
    const [kept, stats] = await Promise.all([keysToKeep(db, table, keys, selections, now), statAll(storage, keys, o.concurrency ?? 32)]);
    for (const row of batch) {
      const overdueSeconds = Math.round((nowMs - row.expiresAtMs) / 1000);
      const pastGrace = nowMs - row.expiresAtMs > graceMs;
      const stat = stats.get(row.fileKey)!;
      const outcome = kept.held.has(row.fileKey)
        ? 'held'
        : kept.shared.has(row.fileKey)
          ? 'shared'
          : 'error' in stat
            ? 'unverifiable'
            : stat.info
              ? 'present'
              : 'absent';
      tally(total, outcome, overdueSeconds, pastGrace);
      tally((byPurpose[row.purpose] ??= emptyCounts()), outcome, overdueSeconds, pastGrace);
      if (outcome === 'present') findings.add(finding(row, overdueSeconds, pastGrace));
      if ('error' in stat && outcome === 'unverifiable' && unverifiable.length < 100) {
        unverifiable.push({ job_id: row.id, file_key: row.fileKey, purpose: row.purpose, ...stat.error });
      }
    }
  }
  return {
    checked_at: now,
    expired_before: before,
    grace_seconds: Math.round(graceMs / 1000),
    storage: storage.describe,
    policy_version: policy.version,
    ...total,
    by_purpose: byPurpose,
    findings: await withRepeatedFailures(db, engine, findings.list()),
    findings_truncated: findings.truncated,
    unverifiable_samples: unverifiable,
    unreadable: await findUnreadableRows(db, table, Object.keys(policy.policies), engine.options.unreadableCountCap),
  };
}

/** The failed ledger rows of the reported files (at most maxFindings keys, one indexed query). */
async function withRepeatedFailures(db: Queryable, engine: Engine, list: VerifyFinding[]): Promise<VerifyFinding[]> {
  if (list.length === 0) return list;
  const byLedgerKey = new Map(list.map((f) => [ledgerKeyFor(engine.options, f.file_key), f.file_key]));
  const { rows } = await db.query<{ k: string; runs: number; code: string | null; error: string | null; at: Date }>(
    `SELECT file_key AS k, count(DISTINCT run_id)::int AS runs,
            (array_agg(error_code ORDER BY id DESC))[1] AS code, (array_agg(error ORDER BY id DESC))[1] AS error, max(erased_at) AS at
       FROM lethe_ledger WHERE outcome = 'failed' AND file_key = ANY($1::text[])
      GROUP BY file_key HAVING count(DISTINCT run_id) >= $2`,
    [[...byLedgerKey.keys()], REPEATED_FAILURE_RUNS],
  );
  const failing = new Map(rows.map((r) => [byLedgerKey.get(r.k)!, r]));
  return list.map((f) => {
    const r = failing.get(f.file_key);
    return r
      ? { ...f, repeated_failure: { runs: r.runs, last_error_code: r.code, last_error: r.error, last_failed_at: r.at.toISOString(), fix: fixForCode(r.code) } }
      : f;
  });
}

function finding(row: ExpiredRow, overdueSeconds: number, pastGrace: boolean): VerifyFinding {
  return {
    job_id: row.id,
    file_key: row.fileKey,
    purpose: row.purpose,
    created_at: new Date(row.createdAtMs).toISOString(),
    expires_at: new Date(row.expiresAtMs).toISOString(),
    overdue_seconds: overdueSeconds,
    past_grace: pastGrace,
  };
}
