import type { Queryable } from '../db/pool.js';
import type { Engine } from '../engine.js';
import { ConfigError } from '../errors.js';
import { formatSeconds } from '../duration-text.js';
import type { UnreadableRows } from '../run/summary.js';
import { databaseNow } from './plan.js';
import {
  auditMonthTotals,
  dailyOutcomes,
  heldFilesAt,
  lastFullMonth,
  lateAtMonthEndErasedSince,
  type DailyOutcomes,
  type LegacyCleanupRows,
} from './report-sources.js';
import { requestMonthTotals, type RequestMonthTotals } from '../requests/request-report.js';
import { readSchedulers } from '../db/tables/schedulers.js';
import { verifyExpired, type VerifyFinding } from './verify.js';

/**
 * The runbook's monthly compliance report (for the DPDP compliance officer), from Lethe's own
 * evidence: the ledger's per-file rows for the month (totals by purpose, failures, lateness), the
 * runs table (how many runs, how they ended) and a check of storage now (expired files still
 * present), plus the legacy service's `cleanup_expired_jobs` rows, which the runbook's SQL counts.
 * DESIGN "Compliance grace": a file is late only when it was (or is) still present more than one
 * schedule period plus a grace (default 24 h) after it expired; COMPLIANT when none is.
 * A closed month is judged as of its end, so later actions cannot change its verdict: ledger rows
 * and runs up to its end; "still present and late" means late at its end (still present now, or
 * erased only after the end).
 */

/** The legacy service's rows in by_purpose: their audit rows carry no purpose. */
export const LEGACY_PURPOSE = '(legacy cleanup service)';

export const DEFAULT_COMPLIANCE_GRACE_MS = 86_400_000;
const DEFAULT_PERIOD_MS = 86_400_000;
/** Ledger rows written by `reconcile` carry an error_code with this prefix; they are not run deletions. */
export const RECONCILE_CODE_PREFIX = 'LETHE_RECONCILE_';

export interface ReportPeriod {
  readonly month: string;
  readonly start: string;
  readonly end: string;
}

/** Validates `YYYY-MM` and returns the month's UTC bounds, [start, end). */
export function parseMonth(month: unknown): ReportPeriod {
  const m = typeof month === 'string' ? /^(\d{4})-(0[1-9]|1[0-2])$/.exec(month) : null;
  if (!m || Number(m[1]) < 1970) throw new ConfigError(`month: expected a month like "2025-11" (YYYY-MM), got ${JSON.stringify(month)}`);
  const year = Number(m[1]);
  const index = Number(m[2]) - 1;
  return { month: month as string, start: new Date(Date.UTC(year, index, 1)).toISOString(), end: new Date(Date.UTC(year, index + 1, 1)).toISOString() };
}

export interface ReportOptions {
  /** Grace beyond one schedule period (default 24 h). */
  readonly graceMs?: number;
  /** The schedule's period; default: the live daemons' period from their heartbeats, else 24 h. */
  readonly periodMs?: number;
  /** Heartbeats older than this are not live daemons (default 2 min). */
  readonly staleAfterMs?: number;
  /** Stats in flight while checking storage. */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
}

export interface PurposeTotals {
  readonly purpose: string;
  /** Retentions under which this month's deletions ran (more than one if the policy changed). */
  readonly retentions: readonly string[];
  /** Rows whose file is gone for good: erased (a trash copy counts once purged) + already absent (the runbook's "deleted"). */
  readonly deleted: number;
  readonly erased: number;
  /** Undo window (docs/safety.md#undo-window-default-off): moved to Lethe's trash this month; not erased until purged (then counted in `erased`). */
  readonly trashed: number;
  readonly absent: number;
  /** Failed delete attempts (a key retried daily counts each day, as the runbook's sums do). */
  readonly failed: number;
  readonly failed_files: number;
  readonly refused: number;
  readonly worst_lateness_seconds: number | null;
  readonly late_erasures: number;
}

export interface Lateness {
  readonly seconds: number;
  readonly file_key: string;
  readonly purpose: string | null;
  readonly run_id: string;
  readonly expires_at: string;
  readonly erased_at: string;
}

export type ComplianceStatus = 'COMPLIANT' | 'NON-COMPLIANT';

export interface ComplianceReport {
  readonly month: string;
  readonly period_start: string;
  readonly period_end: string;
  readonly generated_at: string;
  /** False while the month is still running: figures are so far. */
  readonly month_complete: boolean;
  readonly schedule_period_seconds: number;
  readonly grace_seconds: number;
  /** Period + grace: later than this after expiry is late. */
  readonly allowed_lateness_seconds: number;
  readonly totals: Omit<PurposeTotals, 'purpose' | 'retentions'> & { readonly failure_rate: number };
  readonly by_purpose: readonly PurposeTotals[];
  readonly worst_lateness: Lateness | null;
  /** The month's `cleanup_expired_jobs` rows Lethe did not write (details.source is not 'lethe'), included in the totals. */
  readonly legacy: LegacyCleanupRows;
  /** The runbook's monthly query over this month, against these totals, with the difference explained. */
  readonly reconciliation: Reconciliation;
  /** When lateness is judged: the month's end for a closed month (its verdict then never changes), else now. */
  readonly judged_as_of: string;
  readonly runs: { readonly total: number; readonly completed: number; readonly failed: number; readonly interrupted: number; readonly paused: number };
  readonly reconciled: { readonly orphan_files: number; readonly orphan_rows: number };
  /** Later steps recorded this month: trash copies purged, files restored, files found back and erased again. */
  readonly after_erasure: { readonly purged: number; readonly restored: number; readonly reerased: number };
  /** Expired before the month's end (or now), checked in storage now. */
  readonly still_present: {
    readonly checked: number;
    readonly present: number;
    readonly late: number;
    /** Closed months: files late at the month's end that a run erased only after it (counted as late). */
    readonly late_erased_after_month_end: number;
    readonly unverifiable: number;
    readonly worst_overdue_seconds: number | null;
    readonly by_purpose: Readonly<Record<string, { readonly present: number; readonly late: number }>>;
    readonly samples: readonly VerifyFinding[];
  };
  readonly unreadable: readonly UnreadableRows[];
  /** Erasure requests (docs/rights.md#evidence): received, completed, refused with statute, overdue. */
  readonly erasure_requests: RequestMonthTotals;
  /** Every UTC day of the month (up to now while it runs): files erased and failed attempts, from the ledger (the HTML report's chart). */
  readonly daily: readonly DailyOutcomes[];
  /** Files under a legal hold as of `judged_as_of` (docs/safety.md#legal-holds: a held file is never erased). */
  readonly held: { readonly files: number; readonly holds: number };
  /**
   * The ledger's hash chain as of `judged_as_of` (docs/safety.md#tamper-evident-ledger): the head
   * of the last run that ended by then, and its Ed25519 signature when runs are signed (null:
   * unsigned). Null when no run recorded a head. `lethe ledger verify --public-key` checks it.
   */
  readonly chain?: ReportChainHead | null;
  readonly status: ComplianceStatus;
  /** Why NON-COMPLIANT (empty when compliant). */
  readonly reasons: readonly string[];
  /** Things to look at that do not decide the status. */
  readonly notes: readonly string[];
}

export interface ReportChainHead {
  readonly run_id: string;
  /** The link's sequence number: how many batches the chain held. */
  readonly length: number;
  readonly head: string;
  readonly signature: string | null;
}

/** The head of the last run that ended at or before `asOf` and recorded one. */
async function chainHeadAt(db: Queryable, asOf: string): Promise<ReportChainHead | null> {
  const { rows } = await db.query<{ run_id: string; length: string; head: string; signature: string | null }>(
    `SELECT id::text AS run_id, chain_seq::text AS length, chain_head AS head, chain_signature AS signature
       FROM lethe_runs WHERE chain_seq IS NOT NULL AND ended_at <= $1::timestamptz ORDER BY chain_seq DESC LIMIT 1`,
    [asOf],
  );
  const r = rows[0];
  return r ? { run_id: r.run_id, length: Number(r.length), head: r.head, signature: r.signature } : null;
}

export interface Reconciliation {
  readonly runbook_deleted: number;
  readonly runbook_failed: number;
  /** runbook - this report. */
  readonly deleted_difference: number;
  readonly failed_difference: number;
  /** Moved to the undo trash this month: the runbook counts them when trashed, this report once purged. */
  readonly trashed_not_purged: number;
  /** Purged this month: counted here, counted by the runbook when they were trashed. */
  readonly purged: number;
  /** What the trash does not explain: runs across the month's boundary (their audit row is dated at their end), pruned audit rows. */
  readonly unexplained: number;
}

/** `month` undefined: the last full month. */
export async function monthlyReport(engine: Engine, month: string | undefined, o: ReportOptions = {}): Promise<ComplianceReport> {
  const db = engine.pool;
  const now = await databaseNow(db);
  const period = parseMonth(month ?? lastFullMonth(now));
  const closed = Date.parse(period.end) <= Date.parse(now);
  if (Date.parse(period.start) > Date.parse(now)) throw new ConfigError(`month: ${period.month} has not started yet (now is ${now.slice(0, 10)})`);
  const graceMs = o.graceMs ?? DEFAULT_COMPLIANCE_GRACE_MS;
  const periodMs = o.periodMs ?? (await schedulePeriodMs(db, o.staleAfterMs ?? 120_000));
  const allowedMs = periodMs + graceMs;
  const asOf = closed ? period.end : now;
  const [lethePurposes, worst, runs, reconciled, afterErasure, audit, erasedAfterEnd, requests, daily, held, chain] = await Promise.all([
    purposeTotals(db, period, allowedMs),
    worstLateness(db, period),
    runCounts(db, period),
    reconcileCounts(db, period),
    afterErasureCounts(db, period),
    auditMonthTotals(db, period),
    closed ? lateAtMonthEndErasedSince(db, period, allowedMs, notReconcile) : 0,
    requestMonthTotals(db, period, asOf),
    dailyOutcomes(db, period, asOf, notReconcile),
    heldFilesAt(db, asOf),
    chainHeadAt(db, asOf),
  ]);
  const purposes = audit.legacy.rows > 0 ? [...lethePurposes, legacyTotals(audit.legacy)] : lethePurposes;
  // A closed month: only files already late at its end (so still late now) are checked.
  const verify = await verifyExpired(engine, {
    graceMs: allowedMs,
    expiredBefore: closed ? new Date(Date.parse(period.end) - allowedMs).toISOString() : period.end,
    maxFindings: 20,
    ...(o.concurrency ? { concurrency: o.concurrency } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  const totals = sumTotals(purposes);
  const stillPresent = {
    checked: verify.checked,
    present: verify.present,
    late: verify.past_grace + erasedAfterEnd,
    late_erased_after_month_end: erasedAfterEnd,
    unverifiable: verify.unverifiable,
    worst_overdue_seconds: verify.worst_overdue_seconds,
    by_purpose: Object.fromEntries(
      Object.entries(verify.by_purpose)
        .filter(([, c]) => c.present > 0)
        .map(([p, c]) => [p, { present: c.present, late: c.past_grace }]),
    ),
    samples: verify.findings,
  };
  const judged = judgeCompliance({ lateErasures: totals.late_erasures, latePresent: stillPresent.late, allowedMs, atMonthEnd: closed });
  const notes: string[] = [];
  // A missed erasure deadline is a breach of DPDP s.12(3) whatever the retention runs did.
  const reasons =
    requests.overdue > 0
      ? [
          ...judged.reasons,
          `${requests.overdue} erasure request${requests.overdue === 1 ? ' was' : 's were'} open past ${requests.overdue === 1 ? 'its' : 'their'} deadline ${closed ? "at the month's end" : 'now'} (${requests.overdue_references.slice(0, 5).join(', ')}${requests.overdue > 5 ? ', ...' : ''})`,
        ]
      : judged.reasons;
  if (requests.refused.length > 0)
    notes.push(`erasure requests: ${requests.refused.map((x) => `${x.rows} ${x.purpose} rows refused under ${x.statute}`).join('; ')}`);
  if (!closed) notes.push(`${period.month} is not over yet: figures are up to ${now}`);
  if (erasedAfterEnd > 0) notes.push(`${erasedAfterEnd} files were still present, and late, at the month's end; runs erased them after it`);
  if (audit.legacy.rows > 0)
    notes.push(
      `${audit.legacy.rows} cleanup_expired_jobs rows of the legacy service (not written by Lethe) add ${audit.legacy.deleted} deleted and ${audit.legacy.failed} failed to the totals, as the runbook's SQL does; their files have no ledger rows, so their lateness is not judged`,
    );
  if (!closed && stillPresent.present > stillPresent.late)
    notes.push(`${stillPresent.present - stillPresent.late} expired files are still present but within the allowed ${formatSeconds(allowedMs / 1000)}`);
  if (verify.unverifiable > 0) notes.push(`${verify.unverifiable} expired rows have keys storage cannot check (see \`lethe verify\`)`);
  if (totals.failed > 0) notes.push(`${totals.failed} failed delete attempts on ${totals.failed_files} files (their rows are kept and retried)`);
  if (totals.trashed > 0 || afterErasure.purged > 0)
    notes.push(
      `${totals.trashed} files went to the undo-window trash this month (erased only once purged); ${afterErasure.purged} trash copies were purged this month and count as erased (lateness less the undo window)`,
    );
  if (afterErasure.restored > 0) notes.push(`${afterErasure.restored} files were restored from the trash (see audit_logs cleanup_restored)`);
  if (afterErasure.reerased > 0)
    notes.push(`${afterErasure.reerased} files recorded as erased were found back in storage and erased again (lethe verify-ledger --repair)`);
  for (const u of verify.unreadable)
    notes.push(
      `${u.count}${u.capped ? '+' : ''} rows are never judged: ${u.reason === 'unknown_purpose' ? `no policy for purpose ${JSON.stringify(u.purpose)}` : `purpose ${JSON.stringify(u.purpose)} with ${u.reason === 'infinite_created_at' ? 'an infinite' : 'no'} created_at`}`,
    );
  return {
    month: period.month,
    period_start: period.start,
    period_end: period.end,
    generated_at: now,
    month_complete: Date.parse(period.end) <= Date.parse(now),
    schedule_period_seconds: Math.round(periodMs / 1000),
    grace_seconds: Math.round(graceMs / 1000),
    allowed_lateness_seconds: Math.round(allowedMs / 1000),
    totals,
    by_purpose: purposes,
    worst_lateness: worst,
    legacy: audit.legacy,
    reconciliation: reconcile(audit.runbook, totals, afterErasure.purged),
    judged_as_of: asOf,
    runs,
    reconciled,
    after_erasure: afterErasure,
    still_present: stillPresent,
    unreadable: verify.unreadable,
    erasure_requests: requests,
    daily,
    chain,
    held,
    status: reasons.length === 0 ? 'COMPLIANT' : 'NON-COMPLIANT',
    reasons,
    notes,
  };
}

function legacyTotals(l: LegacyCleanupRows): PurposeTotals {
  return {
    purpose: LEGACY_PURPOSE,
    retentions: [],
    deleted: l.deleted,
    erased: l.deleted,
    trashed: 0,
    absent: 0,
    failed: l.failed,
    failed_files: 0,
    refused: 0,
    worst_lateness_seconds: null,
    late_erasures: 0,
  };
}

function reconcile(runbook: { deleted: number; failed: number }, t: ComplianceReport['totals'], purged: number): Reconciliation {
  const difference = runbook.deleted - t.deleted;
  return {
    runbook_deleted: runbook.deleted,
    runbook_failed: runbook.failed,
    deleted_difference: difference,
    failed_difference: runbook.failed - t.failed,
    trashed_not_purged: t.trashed,
    purged,
    unexplained: difference - (t.trashed - purged),
  };
}

/** The DESIGN rule, alone so it can be tested alone: compliant iff nothing is late. */
export function judgeCompliance(f: { lateErasures: number; latePresent: number; allowedMs: number; atMonthEnd?: boolean }): {
  status: ComplianceStatus;
  reasons: string[];
} {
  const allowed = formatSeconds(f.allowedMs / 1000);
  const reasons: string[] = [];
  const one = (n: number, singular: string, several: string): string => (n === 1 ? singular : several.replace('#', String(n)));
  if (f.lateErasures > 0)
    reasons.push(one(f.lateErasures, `1 file was erased more than ${allowed} after it expired`, `# files were erased more than ${allowed} after they expired`));
  if (f.latePresent > 0 && f.atMonthEnd)
    reasons.push(
      one(
        f.latePresent,
        `1 expired file was still present at the month's end more than ${allowed} after it expired`,
        `# expired files were still present at the month's end more than ${allowed} after they expired`,
      ),
    );
  else if (f.latePresent > 0)
    reasons.push(
      one(
        f.latePresent,
        `1 expired file is still present more than ${allowed} after it expired`,
        `# expired files are still present more than ${allowed} after they expired`,
      ),
    );
  return { status: reasons.length === 0 ? 'COMPLIANT' : 'NON-COMPLIANT', reasons };
}

// Used in reasons so they read the same everywhere; public from both entries.

async function schedulePeriodMs(db: Queryable, staleAfterMs: number): Promise<number> {
  const schedulers = await readSchedulers(db, staleAfterMs);
  const alive = schedulers.filter((s) => s.alive && s.periodMs > 0);
  const known = alive.length > 0 ? alive : schedulers.filter((s) => s.periodMs > 0);
  return known.length > 0 ? Math.max(...known.map((s) => s.periodMs)) : DEFAULT_PERIOD_MS;
}

/**
 * Undo window (docs/safety.md#undo-window-default-off): a file counts as erased only once it is gone for good: `erased`, or `purged` at the end
 * of its undo window. A purge's lateness leaves out the window itself (a configured, documented
 * recovery buffer), so only a late move into the trash, or a late purge, makes it late.
 */
const LATENESS = `(l.erased_at - l.expires_at - coalesce(l.undo_window, interval '0'))`;

const notReconcile = `(l.error_code IS NULL OR l.error_code NOT LIKE '${RECONCILE_CODE_PREFIX}%')`;

async function purposeTotals(db: Queryable, period: ReportPeriod, allowedMs: number): Promise<PurposeTotals[]> {
  const { rows } = await db.query<{
    purpose: string | null;
    retentions: (string | null)[];
    erased: number;
    trashed: number;
    absent: number;
    failed: number;
    failed_files: number;
    refused: number;
    worst_s: number | null;
    late: number;
  }>(
    `SELECT l.purpose_code AS purpose, array_agg(DISTINCT coalesce(v.policies -> l.purpose_code ->> 'retention', v.policies ->> l.purpose_code)) AS retentions,
            count(*) FILTER (WHERE l.outcome IN ('erased', 'purged'))::int AS erased,
            count(*) FILTER (WHERE l.outcome = 'trashed')::int AS trashed,
            count(*) FILTER (WHERE l.outcome = 'absent')::int AS absent,
            count(*) FILTER (WHERE l.outcome = 'failed')::int AS failed,
            count(DISTINCT l.file_key) FILTER (WHERE l.outcome = 'failed')::int AS failed_files,
            count(*) FILTER (WHERE l.outcome = 'refused')::int AS refused,
            max(extract(epoch FROM ${LATENESS})) FILTER (WHERE l.outcome IN ('erased', 'purged'))::float8 AS worst_s,
            count(*) FILTER (WHERE l.outcome IN ('erased', 'purged') AND ${LATENESS} > $3::bigint * interval '1 millisecond')::int AS late
       FROM lethe_ledger l LEFT JOIN lethe_policy_versions v ON v.version = l.policy_version
      WHERE l.erased_at >= $1 AND l.erased_at < $2 AND ${notReconcile}
      GROUP BY l.purpose_code ORDER BY l.purpose_code`,
    [period.start, period.end, Math.round(allowedMs)],
  );
  return rows.map((r) => ({
    purpose: r.purpose ?? '(none)',
    retentions: r.retentions.filter((x): x is string => x !== null).sort(),
    deleted: r.erased + r.absent,
    erased: r.erased,
    trashed: r.trashed,
    absent: r.absent,
    failed: r.failed,
    failed_files: r.failed_files,
    refused: r.refused,
    worst_lateness_seconds: r.worst_s === null ? null : Math.round(r.worst_s),
    late_erasures: r.late,
  }));
}

function sumTotals(purposes: readonly PurposeTotals[]): ComplianceReport['totals'] {
  const t = {
    deleted: 0,
    erased: 0,
    trashed: 0,
    absent: 0,
    failed: 0,
    failed_files: 0,
    refused: 0,
    late_erasures: 0,
    worst_lateness_seconds: null as number | null,
  };
  for (const p of purposes) {
    t.deleted += p.deleted;
    t.erased += p.erased;
    t.trashed += p.trashed;
    t.absent += p.absent;
    t.failed += p.failed;
    t.failed_files += p.failed_files;
    t.refused += p.refused;
    t.late_erasures += p.late_erasures;
    if (p.worst_lateness_seconds !== null && (t.worst_lateness_seconds === null || p.worst_lateness_seconds > t.worst_lateness_seconds))
      t.worst_lateness_seconds = p.worst_lateness_seconds;
  }
  const attempts = t.deleted + t.failed;
  return { ...t, failure_rate: attempts === 0 ? 0 : t.failed / attempts };
}

async function worstLateness(db: Queryable, period: ReportPeriod): Promise<Lateness | null> {
  const { rows } = await db.query<{ s: number; file_key: string; purpose_code: string | null; run_id: string; expires_at: Date; erased_at: Date }>(
    `SELECT extract(epoch FROM ${LATENESS})::float8 AS s, l.file_key, l.purpose_code, l.run_id::text, l.expires_at, l.erased_at
       FROM lethe_ledger l
      WHERE l.erased_at >= $1 AND l.erased_at < $2 AND l.outcome IN ('erased', 'purged') AND l.expires_at IS NOT NULL AND ${notReconcile}
      ORDER BY ${LATENESS} DESC LIMIT 1`,
    [period.start, period.end],
  );
  const r = rows[0];
  return r
    ? {
        seconds: Math.round(r.s),
        file_key: r.file_key,
        purpose: r.purpose_code,
        run_id: r.run_id,
        expires_at: r.expires_at.toISOString(),
        erased_at: r.erased_at.toISOString(),
      }
    : null;
}

async function runCounts(db: Queryable, period: ReportPeriod): Promise<ComplianceReport['runs']> {
  const { rows } = await db.query<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM lethe_runs WHERE NOT dry_run AND started_at >= $1 AND started_at < $2 GROUP BY status`,
    [period.start, period.end],
  );
  const n = (s: string): number => rows.find((r) => r.status === s)?.n ?? 0;
  return { total: rows.reduce((a, r) => a + r.n, 0), completed: n('completed'), failed: n('failed'), interrupted: n('interrupted'), paused: n('paused') };
}

async function reconcileCounts(db: Queryable, period: ReportPeriod): Promise<ComplianceReport['reconciled']> {
  const { rows } = await db.query<{ files: number; rows: number }>(
    `SELECT count(*) FILTER (WHERE error_code = '${RECONCILE_CODE_PREFIX}ORPHAN_FILE' AND outcome = 'erased')::int AS files,
            count(*) FILTER (WHERE error_code = '${RECONCILE_CODE_PREFIX}ORPHAN_ROW' AND outcome = 'absent')::int AS rows
       FROM lethe_ledger WHERE erased_at >= $1 AND erased_at < $2 AND error_code LIKE '${RECONCILE_CODE_PREFIX}%'`,
    [period.start, period.end],
  );
  return { orphan_files: rows[0]?.files ?? 0, orphan_rows: rows[0]?.rows ?? 0 };
}

async function afterErasureCounts(db: Queryable, period: ReportPeriod): Promise<ComplianceReport['after_erasure']> {
  const { rows } = await db.query<{ purged: number; restored: number; reerased: number }>(
    `SELECT count(*) FILTER (WHERE outcome = 'purged')::int AS purged, count(*) FILTER (WHERE outcome = 'restored')::int AS restored,
            count(*) FILTER (WHERE outcome = 'reerased')::int AS reerased
       FROM lethe_ledger WHERE erased_at >= $1 AND erased_at < $2 AND outcome IN ('purged', 'restored', 'reerased')`,
    [period.start, period.end],
  );
  return { purged: rows[0]?.purged ?? 0, restored: rows[0]?.restored ?? 0, reerased: rows[0]?.reerased ?? 0 };
}
