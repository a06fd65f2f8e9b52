import { LEGACY_PURPOSE, type ComplianceReport, type PurposeTotals } from './report.js';
import { countText, dailyChartSvg, durationText, escapeHtml, field, htmlDocument } from './report-html-parts.js';

/**
 * The runbook's monthly compliance report (docs/runbook.md#compliance-reporting) as one
 * self-contained HTML file the compliance officer can file or print to PDF: the template's lines,
 * per-purpose totals, a per-day chart, lateness, erasure requests, held files and the ledger
 * chain's head and signature. Every figure comes from the report JSON, so the page, the text, the
 * CSV and `--json` show the same numbers; a section whose evidence the report does not carry says
 * "not recorded" rather than showing a number.
 */

/** Evidence other parts of Lethe add to the report JSON when they record it; absent => "not recorded". */
export interface ReportEvidence {
  /** The ledger's hash chain as of the report: its head and the head's signature. */
  readonly chain?: { readonly head: string; readonly signature?: string | null; readonly length?: number | null } | null;
}

/** A report as JSON holds it; `daily`, `held` and `erasure_requests` may be missing from reports stored before they existed. */
export type HtmlReportInput = Omit<ComplianceReport, 'daily' | 'held' | 'erasure_requests' | 'chain'> &
  Partial<Pick<ComplianceReport, 'daily' | 'held' | 'erasure_requests'>> &
  ReportEvidence;

const NOT_RECORDED = '<span class="muted" data-missing="true">not recorded</span>';

export function reportHtml(r: HtmlReportInput): string {
  const body = [
    header(r),
    templateSection(r),
    purposeSection(r.by_purpose),
    chartSection(r),
    latenessSection(r),
    requestsSection(r),
    heldSection(r),
    chainSection(r),
    notesSection(r),
    footer(r),
  ].join('\n');
  return htmlDocument(`Lethe compliance report ${r.month}`, body);
}

function monthTitle(r: HtmlReportInput): string {
  const [year, month] = r.month.split('-').map(Number) as [number, number];
  return `${new Date(Date.UTC(year, month - 1, 1)).toLocaleString('en-US', { month: 'long', timeZone: 'UTC' })} ${year}`;
}

function header(r: HtmlReportInput): string {
  const lastDay = new Date(Date.parse(r.period_end) - 1).toISOString().slice(0, 10);
  const ok = r.status === 'COMPLIANT';
  return `<h1>Cleanup Service - Monthly Report</h1>
<p>Period: ${escapeHtml(monthTitle(r))} (${escapeHtml(`${r.period_start.slice(0, 10)} to ${lastDay}`)}, UTC)${r.month_complete ? '' : ` <span class="status warn">in progress, up to ${escapeHtml(r.generated_at)}</span>`}</p>
<p>Compliance Status: <span class="status ${ok ? 'ok' : 'bad'}">${ok ? '✔' : '✘'} ${field('status', r.status)}</span></p>
${ok ? `<p>All files deleted within retention periods (allowed lateness: ${allowedText(r)}).</p>` : `<ul>${r.reasons.map((x) => `<li>${escapeHtml(x)}</li>`).join('')}</ul><p>Allowed lateness: ${allowedText(r)}.</p>`}`;
}

function allowedText(r: HtmlReportInput): string {
  return `one schedule period (${escapeHtml(durationText(r.schedule_period_seconds))}) + grace (${escapeHtml(durationText(r.grace_seconds))})`;
}

function templateSection(r: HtmlReportInput): string {
  const t = r.totals;
  const runs = r.runs;
  return `<h2>Totals</h2>
<p>Total Files Deleted: ${field('totals.deleted', t.deleted)}</p>
<p>Failed Deletions: ${field('totals.failed', t.failed)} (${escapeHtml((t.failure_rate * 100).toFixed(1))}% failure rate) on ${field('totals.failed_files', t.failed_files)} files</p>
<p>Refused by the safety checks (keys outside the storage root, links; never deleted): ${field('totals.refused', t.refused)}</p>
<p>Runs: ${field('runs.total', runs.total)} (${field('runs.completed', runs.completed)} completed, ${field('runs.failed', runs.failed)} failed, ${field('runs.interrupted', runs.interrupted)} interrupted, ${field('runs.paused', runs.paused)} paused)</p>
<p class="small muted">Runbook query (audit_logs cleanup_expired_jobs, ${escapeHtml(r.month)}): ${field('reconciliation.runbook_deleted', r.reconciliation.runbook_deleted)} deleted, ${field('reconciliation.runbook_failed', r.reconciliation.runbook_failed)} failed; difference ${field('reconciliation.deleted_difference', r.reconciliation.deleted_difference)} deleted.</p>`;
}

function purposeRow(p: PurposeTotals, i: number): string {
  const f = (name: keyof PurposeTotals, v: number | null): string => `<td class="n">${field(`by_purpose.${i}.${name}`, v)}</td>`;
  const name = p.purpose === LEGACY_PURPOSE ? 'Legacy cleanup service' : p.purpose;
  return `<tr><td>${escapeHtml(name)}</td><td>${escapeHtml(p.retentions.join(', ') || '-')}</td>${f('deleted', p.deleted)}${f('erased', p.erased)}${f('trashed', p.trashed)}${f('absent', p.absent)}${f('failed', p.failed)}${f('refused', p.refused)}${f('late_erasures', p.late_erasures)}<td class="n">${escapeHtml(durationText(p.worst_lateness_seconds))}</td></tr>`;
}

function purposeSection(purposes: readonly PurposeTotals[]): string {
  if (purposes.length === 0) return '<h2>By purpose</h2><p class="muted">No deletions recorded this month.</p>';
  return `<h2>By purpose</h2>
<table><thead><tr><th>Purpose</th><th>Retention</th><th>Deleted</th><th>Erased</th><th>Trashed</th><th>Already absent</th><th>Failed</th><th>Refused</th><th>Late</th><th>Worst lateness</th></tr></thead>
<tbody>${purposes.map(purposeRow).join('\n')}</tbody></table>`;
}

function chartSection(r: HtmlReportInput): string {
  if (!r.daily) return `<h2>Per day</h2><p>${NOT_RECORDED}</p>`;
  const erased = r.daily.reduce((a, d) => a + d.erased, 0);
  const failed = r.daily.reduce((a, d) => a + d.failed, 0);
  const rows = r.daily
    .filter((d) => d.erased + d.failed > 0)
    .map((d) => `<tr><td>${escapeHtml(d.date)}</td><td class="n">${countText(d.erased)}</td><td class="n">${countText(d.failed)}</td></tr>`);
  return `<h2>Per day (UTC, from the ledger)</h2>
<p class="small"><span style="color:#2f7d4a">■</span> erased: <span data-sum="daily.erased">${countText(erased)}</span> &nbsp; <span style="color:#c0392b">■</span> failed: <span data-sum="daily.failed">${countText(failed)}</span> <span class="muted">(the legacy service's audit rows are not in the ledger)</span></p>
${dailyChartSvg(r.daily)}
${rows.length > 0 ? `<table class="small"><thead><tr><th>Day</th><th>Erased</th><th>Failed</th></tr></thead><tbody>${rows.join('')}</tbody></table>` : '<p class="muted">No erasures or failures on any day.</p>'}`;
}

function latenessSection(r: HtmlReportInput): string {
  const w = r.worst_lateness;
  const s = r.still_present;
  return `<h2>Lateness</h2>
<p>Worst Lateness: ${w ? `${escapeHtml(durationText(w.seconds))} after expiry (<span class="mono">${escapeHtml(w.file_key)}</span>, ${escapeHtml(w.purpose ?? '-')}, run <span class="mono">${escapeHtml(w.run_id)}</span>)` : 'none (no erasures this month)'}</p>
<p>Late erasures: ${field('totals.late_erasures', r.totals.late_erasures)} (allowed lateness ${escapeHtml(durationText(r.allowed_lateness_seconds))})</p>
<p>Files Still Present Past Expiry: ${field('still_present.present', s.present)} (${field('still_present.late', s.late)} late; ${field('still_present.checked', s.checked)} expired rows checked in storage)</p>
<p class="small muted">Judged as of ${escapeHtml(r.judged_as_of)}; erased after the month's end but late at it: ${field('still_present.late_erased_after_month_end', s.late_erased_after_month_end)}.</p>`;
}

function requestsSection(r: HtmlReportInput): string {
  const q = r.erasure_requests;
  if (!q) return `<h2>Erasure requests</h2><p>Requests received, completed, refused, overdue: ${NOT_RECORDED}</p>`;
  const refused =
    q.refused.length === 0
      ? '<p>Refused on request: none</p>'
      : `<ul>${q.refused.map((x, i) => `<li>Refused: ${field(`erasure_requests.refused.${i}.rows`, x.rows)} ${escapeHtml(x.purpose)} rows, retained under ${escapeHtml(x.statute)}</li>`).join('')}</ul>`;
  return `<h2>Erasure requests</h2>
<p>Received: ${field('erasure_requests.received', q.received)} &nbsp; Completed: ${field('erasure_requests.completed', q.completed)} (late: ${field('erasure_requests.completed_late', q.completed_late)}) &nbsp; Overdue: ${field('erasure_requests.overdue', q.overdue)} &nbsp; Rows erased on request: ${field('erasure_requests.rows_erased', q.rows_erased)} &nbsp; Held rows: ${field('erasure_requests.held_rows', q.held_rows)}</p>
${refused}`;
}

function heldSection(r: HtmlReportInput): string {
  if (!r.held) return `<h2>Legal holds</h2><p>Held files: ${NOT_RECORDED}</p>`;
  return `<h2>Legal holds</h2>
<p>Held Files: ${field('held.files', r.held.files)} (${field('held.holds', r.held.holds)} active holds as of ${escapeHtml(r.judged_as_of)}; a held file is never erased)</p>`;
}

function chainSection(r: HtmlReportInput): string {
  const c = r.chain;
  if (!c) return `<h2>Ledger chain</h2><p>Chain head: ${NOT_RECORDED}</p><p>Signature: ${NOT_RECORDED}</p>`;
  return `<h2>Ledger chain</h2>
<p>Chain head: <span class="mono">${field('chain.head', c.head)}</span></p>
<p>Signature: ${c.signature ? `<span class="mono">${field('chain.signature', c.signature)}</span>` : NOT_RECORDED}</p>`;
}

function notesSection(r: HtmlReportInput): string {
  if (r.notes.length === 0) return '';
  return `<h2>Notes</h2><ul>${r.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>`;
}

function footer(r: HtmlReportInput): string {
  return `<p class="small muted" style="margin-top:24px">Generated ${escapeHtml(r.generated_at)} by Lethe from its ledger, runs and storage (docs/runbook.md#compliance-reporting). The JSON report (lethe report --json) carries every figure above.</p>`;
}
