import { loadCurrentPolicies, readSchedulers, retentionToInterval, type JobsTable, type Queryable } from '@lethe/engine';
import { countExpiredRows } from './expired-counts.js';

const LATE_CAP = 100_000;
const LATE_SAMPLES = 5;

export interface ReportOptions {
  /** `YYYY-MM`, already validated. */
  readonly month: string;
  /** DESIGN "Compliance grace": default 24 h. */
  readonly graceMs: number;
  /** Schedule period when no live scheduler reports one. */
  readonly defaultPeriodMs: number;
  readonly staleAfterMs: number;
}

interface PurposeTotals {
  purpose: string;
  retention: string | null;
  deleted: number;
  erased: number;
  absent: number;
  failed: number;
  refused: number;
}

/**
 * The runbook's monthly compliance report as JSON, from the ledger (one row per file outcome)
 * rather than the audit rows, so totals are exact per purpose. COMPLIANT only when no file is
 * late (DESIGN "Compliance grace"): no file erased in the month more than one schedule period +
 * grace after it expired, and no expired file still present that long at the end of the month
 * (or now, for the current month). Written here because the engine's report operation (issue 6)
 * did not exist yet.
 */
export async function monthlyReport(db: Queryable, table: JobsTable, o: ReportOptions) {
  const [year, mon] = o.month.split('-').map(Number) as [number, number];
  const from = new Date(Date.UTC(year, mon - 1, 1));
  const to = new Date(Date.UTC(year, mon, 1));
  const { rows: clock } = await db.query<{ now: Date }>('SELECT now() AS now');
  const now = clock[0]!.now;
  const asOf = to < now ? to : now;
  const [policy, schedulers] = await Promise.all([loadCurrentPolicies(db), readSchedulers(db, o.staleAfterMs)]);
  const periodMs = schedulers.find((s) => s.alive)?.periodMs || o.defaultPeriodMs;
  const lateAfterMs = periodMs + o.graceMs;
  const [byPurpose, lateErased, runs, stillPresent] = await Promise.all([
    db.query<Omit<PurposeTotals, 'retention' | 'deleted'> & { purpose: string | null }>(
      `SELECT purpose_code AS purpose,
              count(*) FILTER (WHERE outcome = 'erased')::int AS erased, count(*) FILTER (WHERE outcome = 'absent')::int AS absent,
              count(*) FILTER (WHERE outcome = 'failed')::int AS failed, count(*) FILTER (WHERE outcome = 'refused')::int AS refused
         FROM lethe_ledger WHERE erased_at >= $1 AND erased_at < $2 GROUP BY 1 ORDER BY 1`,
      [from, to],
    ),
    db.query<{ n: number; samples: string[] | null }>(
      `SELECT count(*)::int AS n, (array_agg(file_key ORDER BY erased_at - expires_at DESC))[1:${LATE_SAMPLES}] AS samples
         FROM lethe_ledger WHERE erased_at >= $1 AND erased_at < $2 AND outcome = 'erased'
          AND erased_at > expires_at + ($3::bigint * interval '1 millisecond')`,
      [from, to, lateAfterMs],
    ),
    db.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM lethe_runs WHERE NOT dry_run AND started_at >= $1 AND started_at < $2 GROUP BY 1`,
      [from, to],
    ),
    countExpiredRows(db, table, { extraMs: lateAfterMs, cap: LATE_CAP, samples: LATE_SAMPLES, asOf: asOf.toISOString() }),
  ]);
  const purposes: PurposeTotals[] = byPurpose.rows.map((r) => {
    const retention = r.purpose !== null && policy.policies[r.purpose] ? retentionToInterval(policy.policies[r.purpose]!) : null;
    return { purpose: r.purpose ?? '(none)', retention, deleted: r.erased + r.absent, erased: r.erased, absent: r.absent, failed: r.failed, refused: r.refused };
  });
  const sum = (k: keyof Omit<PurposeTotals, 'purpose' | 'retention'>): number => purposes.reduce((a, p) => a + p[k], 0);
  const deleted = sum('deleted');
  const failed = sum('failed');
  const present = stillPresent.filter((c) => c.count > 0);
  const presentCount = present.reduce((a, c) => a + c.count, 0);
  const erasedLate = lateErased.rows[0]?.n ?? 0;
  const reasons: string[] = [];
  if (erasedLate > 0) reasons.push(`${erasedLate} file(s) erased more than ${hours(lateAfterMs)} h after they expired`);
  if (presentCount > 0) reasons.push(`${presentCount}${present.some((c) => c.capped) ? '+' : ''} expired file(s) still present more than ${hours(lateAfterMs)} h after they expired`);
  return {
    month: o.month,
    period: { from: from.toISOString(), to: to.toISOString() },
    generated_at: now.toISOString(),
    as_of: asOf.toISOString(),
    policy_version: policy.version,
    totals: { deleted, erased: sum('erased'), absent: sum('absent'), failed, refused: sum('refused'), failure_rate: deleted + failed === 0 ? 0 : failed / (deleted + failed) },
    by_purpose: purposes,
    runs: Object.fromEntries(runs.rows.map((r) => [r.status, r.n])),
    late: {
      schedule_period_hours: hours(periodMs),
      grace_hours: hours(o.graceMs),
      erased_late: erasedLate,
      erased_late_sample_keys: lateErased.rows[0]?.samples ?? [],
      still_present: present.map((c) => ({ purpose: c.purpose, count: c.count, capped: c.capped, sample_keys: c.sampleKeys })),
    },
    compliance: { status: reasons.length === 0 ? 'COMPLIANT' : 'NON_COMPLIANT', reasons },
  };
}

export type MonthlyReport = Awaited<ReturnType<typeof monthlyReport>>;

function hours(ms: number): number {
  return Math.round((ms / 3_600_000) * 100) / 100;
}
