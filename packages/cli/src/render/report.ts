import { LEGACY_PURPOSE, type ComplianceReport } from '@lethe/engine/operations';
import { createPalette, type Palette } from './colour.js';
import { count, duration, time } from './format.js';

/** The runbook's "Monthly Report" template, filled in from a ComplianceReport. */
export function reportText(r: ComplianceReport, paint: Palette = createPalette(false)): string[] {
  const [year, month] = r.month.split('-').map(Number) as [number, number];
  const monthName = new Date(Date.UTC(year, month - 1, 1)).toLocaleString('en-US', { month: 'long', timeZone: 'UTC' });
  const lastDay = new Date(Date.parse(r.period_end) - 1).toISOString().slice(0, 10);
  const t = r.totals;
  const lines = [
    'Cleanup Service - Monthly Report',
    `Period: ${monthName} ${year} (${r.period_start.slice(0, 10)} to ${lastDay}, UTC)${r.month_complete ? '' : ` - in progress, up to ${time(r.generated_at)}`}`,
    '',
    `Total Files Deleted: ${count(t.deleted)}`,
    ...r.by_purpose.map((p) =>
      p.purpose === LEGACY_PURPOSE
        ? `- Legacy cleanup service: ${count(p.deleted)} (${count(r.legacy.rows)} audit_logs rows not written by Lethe)`
        : `- ${p.purpose}: ${count(p.deleted)} (${p.retentions.join(', ') || 'unknown'} retention)`,
    ),
    '',
    `Failed Deletions: ${count(t.failed)} (${(t.failure_rate * 100).toFixed(1)}% failure rate)`,
    `Worst Lateness: ${r.worst_lateness ? `${duration(r.worst_lateness.seconds)} after expiry (${r.worst_lateness.file_key}, ${r.worst_lateness.purpose ?? '-'}, run ${r.worst_lateness.run_id})` : 'none (no erasures this month)'}`,
    `Files Still Present Past Expiry: ${count(r.still_present.present)} (${count(r.still_present.late)} late; ${count(r.still_present.checked)} expired rows checked in storage now)`,
    `Runs: ${count(r.runs.total)} (${count(r.runs.completed)} completed, ${count(r.runs.failed)} failed, ${count(r.runs.interrupted)} interrupted, ${count(r.runs.paused)} paused)`,
    `Held Files: ${count(r.held.files)} (${count(r.held.holds)} active legal holds as of ${time(r.judged_as_of)})`,
    `Ledger Chain Head: ${r.chain ? `${r.chain.head} (batch ${count(r.chain.length)}, run ${r.chain.run_id}; ${r.chain.signature ? `signature ${r.chain.signature}` : 'unsigned'})` : 'not recorded'}`,
  ];
  // Absent from snapshots stored before erasure requests existed (lethe_monthly_reports).
  const q = r.erasure_requests as ComplianceReport['erasure_requests'] | undefined;
  // Only when the month had requests: a report without them reads as before.
  if (q && q.received + q.completed + q.overdue + q.refused.length > 0) {
    lines.push(
      `Erasure Requests: ${count(q.received)} received, ${count(q.completed)} completed (${count(q.completed_late)} late), ${count(q.overdue)} overdue; ${count(q.rows_erased + q.rows_unlinked)} rows erased on request`,
    );
    for (const x of q.refused) lines.push(`- refused: ${count(x.rows)} ${x.purpose} rows, retained under ${x.statute}`);
  }
  lines.push(reconciliationLine(r));
  if (r.reconciled.orphan_files + r.reconciled.orphan_rows > 0) {
    lines.push(`Reconciled: ${count(r.reconciled.orphan_files)} orphan files erased, ${count(r.reconciled.orphan_rows)} orphan rows removed`);
  }
  const allowed = `one schedule period (${duration(r.schedule_period_seconds)}) + grace (${duration(r.grace_seconds)})`;
  lines.push('', `Compliance Status: ${r.status === 'COMPLIANT' ? `✅ ${paint.good('COMPLIANT')}` : `❌ ${paint.bad('NON-COMPLIANT')}`}`);
  if (r.status === 'COMPLIANT') lines.push(`All files deleted within retention periods (allowed lateness: ${allowed}).`);
  else {
    lines.push(...r.reasons.map((reason) => `- ${reason}`), `Allowed lateness: ${allowed}.`);
    for (const f of r.still_present.samples.filter((s) => s.past_grace).slice(0, 5))
      lines.push(`  still present: ${f.file_key} (${f.purpose}), ${duration(f.overdue_seconds)} past expiry`);
  }
  if (r.notes.length > 0) lines.push('', 'Notes:', ...r.notes.map((n) => `- ${n}`));
  return lines;
}

/** The runbook's monthly query (summed over this month) against this report: same numbers, or why not. */
export function reconciliationLine(r: ComplianceReport): string {
  const c = r.reconciliation;
  const head = `Runbook query (audit_logs cleanup_expired_jobs, ${r.month}): ${count(c.runbook_deleted)} deleted, ${count(c.runbook_failed)} failed`;
  if (c.deleted_difference === 0 && c.failed_difference === 0) return `${head}: same numbers`;
  const why: string[] = [];
  if (c.trashed_not_purged > 0)
    why.push(`${count(c.trashed_not_purged)} files moved to the undo trash (the runbook counts them when trashed, this report once purged)`);
  if (c.purged > 0) why.push(`${count(c.purged)} trash copies purged this month (counted here, by the runbook when trashed)`);
  if (c.unexplained !== 0) why.push(`${count(c.unexplained)} from runs across the month's boundary or missing audit rows`);
  if (c.failed_difference !== 0) why.push(`failed differs by ${count(c.failed_difference)}`);
  return `${head}: ${c.deleted_difference >= 0 ? '+' : ''}${count(c.deleted_difference)} deleted vs this report (${why.join('; ')})`;
}

const CSV_HEADER = [
  'month',
  'purpose',
  'retention',
  'deleted',
  'erased',
  'trashed',
  'already_absent',
  'failed',
  'failed_files',
  'refused',
  'failure_rate',
  'worst_lateness_seconds',
  'late_erasures',
  'still_present',
  'still_present_late',
  'status',
];

function csvCell(v: string | number | null): string {
  const s = v === null ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const rate = (failed: number, deleted: number): string => (failed + deleted === 0 ? '0' : (failed / (failed + deleted)).toFixed(4));

/** One row per purpose and a TOTAL row carrying the status: a flat table for a spreadsheet. */
export function reportCsv(r: ComplianceReport): string[] {
  const purposes = [...new Set([...r.by_purpose.map((p) => p.purpose), ...Object.keys(r.still_present.by_purpose)])];
  const rows = purposes.map((purpose) => {
    const p = r.by_purpose.find((x) => x.purpose === purpose);
    const s = r.still_present.by_purpose[purpose];
    return [
      r.month,
      purpose,
      p?.retentions.join(' / ') ?? '',
      p?.deleted ?? 0,
      p?.erased ?? 0,
      p?.trashed ?? 0,
      p?.absent ?? 0,
      p?.failed ?? 0,
      p?.failed_files ?? 0,
      p?.refused ?? 0,
      rate(p?.failed ?? 0, p?.deleted ?? 0),
      p?.worst_lateness_seconds ?? null,
      p?.late_erasures ?? 0,
      s?.present ?? 0,
      s?.late ?? 0,
      '',
    ];
  });
  const t = r.totals;
  rows.push([
    r.month,
    'TOTAL',
    '',
    t.deleted,
    t.erased,
    t.trashed,
    t.absent,
    t.failed,
    t.failed_files,
    t.refused,
    rate(t.failed, t.deleted),
    t.worst_lateness_seconds,
    t.late_erasures,
    r.still_present.present,
    r.still_present.late,
    r.status,
  ]);
  return [CSV_HEADER.join(','), ...rows.map((row) => row.map(csvCell).join(','))];
}
