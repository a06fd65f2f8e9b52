import { createHash } from 'node:crypto';
import type { Queryable } from '../db/pool.js';
import type { Engine } from '../engine.js';
import { databaseNow } from './plan.js';
import { DEFAULT_COMPLIANCE_GRACE_MS, monthlyReport, parseMonth, type ComplianceReport, type ReportOptions } from './report.js';
import { lastFullMonth } from './report-sources.js';

/**
 * A closed month's report is reproducible: the first `lethe report` for it stores the report with
 * the sha256 of its canonical JSON (migration 7, `lethe_monthly_reports`), and later ones print
 * that snapshot. `regenerate` builds it again from the database and storage as they are now and
 * compares (runbook "Compliance Reporting"). A month still running is never stored.
 */
export interface ReportSnapshotInfo {
  /**
   * `stored`: the snapshot read back; `created`: generated now and stored; `regenerated`: generated
   * again and compared with the snapshot; `live`: the month is not over, nothing stored.
   */
  readonly source: 'stored' | 'created' | 'live' | 'regenerated';
  /** The stored JSON still hashes to the stored sha256 (null for a live report): false means it was altered. */
  readonly intact: boolean | null;
  /** When the stored snapshot was generated (null for a live report). */
  readonly generated_at: string | null;
  /** sha256 of the stored snapshot's canonical JSON (null for a live report). */
  readonly sha256: string | null;
  /** With `regenerate`: whether the new report equals the snapshot (generated_at left out); else null. */
  readonly matches: boolean | null;
  /** With `regenerate`: the top-level fields that differ (capped). */
  readonly differences: readonly string[];
}

export interface SnapshotReportOptions extends ReportOptions {
  /** Generate again and compare with the stored snapshot; the snapshot itself is never replaced. */
  readonly regenerate?: boolean;
}

export interface SnapshotReport {
  readonly report: ComplianceReport;
  readonly snapshot: ReportSnapshotInfo;
}

/** JSON with object keys sorted at every level: the same report always gives the same bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .filter((k) => o[k] !== undefined)
        .map((k) => [k, sortKeys(o[k])]),
    );
  }
  return value;
}

export const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

interface StoredRow {
  readonly generated_at: Date;
  readonly sha256: string;
  readonly report: ComplianceReport;
}

async function readSnapshot(db: Queryable, month: string, graceSeconds: number): Promise<StoredRow | null> {
  const { rows } = await db.query<StoredRow>('SELECT generated_at, sha256, report FROM lethe_monthly_reports WHERE month = $1 AND grace_seconds = $2', [
    month,
    graceSeconds,
  ]);
  return rows[0] ?? null;
}

/** First writer wins: two reports generated at once store one snapshot, and both print it. */
async function storeSnapshot(db: Queryable, report: ComplianceReport): Promise<StoredRow> {
  const json = canonicalJson(report);
  await db.query(
    `INSERT INTO lethe_monthly_reports (month, grace_seconds, generated_at, sha256, report) VALUES ($1, $2, $3, $4, $5::jsonb)
     ON CONFLICT (month, grace_seconds) DO NOTHING`,
    [report.month, report.grace_seconds, report.generated_at, sha256Hex(json), json],
  );
  const stored = await readSnapshot(db, report.month, report.grace_seconds);
  if (!stored) throw new Error(`report snapshot for ${report.month} was not stored`);
  return stored;
}

/** The top-level fields whose canonical JSON differs, generated_at left out (it always differs). */
export function reportDifferences(a: ComplianceReport, b: ComplianceReport): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => k !== 'generated_at').sort();
  const ra = a as unknown as Record<string, unknown>;
  const rb = b as unknown as Record<string, unknown>;
  return keys.filter((k) => canonicalJson(ra[k] ?? null) !== canonicalJson(rb[k] ?? null));
}

/** `month` undefined: the last full month. */
export async function monthlyReportSnapshot(engine: Engine, month: string | undefined, o: SnapshotReportOptions = {}): Promise<SnapshotReport> {
  const db = engine.pool;
  const now = await databaseNow(db);
  const period = parseMonth(month ?? lastFullMonth(now));
  const closed = Date.parse(period.end) <= Date.parse(now);
  const graceSeconds = Math.round((o.graceMs ?? DEFAULT_COMPLIANCE_GRACE_MS) / 1000);
  const stored = closed ? await readSnapshot(db, period.month, graceSeconds) : null;
  if (stored && !o.regenerate) return { report: stored.report, snapshot: info('stored', stored, null, []) };
  const report = await monthlyReport(engine, period.month, o);
  if (!report.month_complete) return { report, snapshot: { source: 'live', intact: null, generated_at: null, sha256: null, matches: null, differences: [] } };
  if (!stored) {
    const created = await storeSnapshot(db, report);
    if (canonicalJson(created.report) !== canonicalJson(report)) return { report: created.report, snapshot: info('stored', created, null, []) };
    return { report, snapshot: info('created', created, null, []) };
  }
  const differences = reportDifferences(stored.report, report);
  return { report, snapshot: info('regenerated', stored, differences.length === 0, differences) };
}

function info(source: ReportSnapshotInfo['source'], row: StoredRow, matches: boolean | null, differences: readonly string[]): ReportSnapshotInfo {
  const intact = sha256Hex(canonicalJson(row.report)) === row.sha256;
  return { source, intact, generated_at: row.generated_at.toISOString(), sha256: row.sha256, matches, differences };
}
