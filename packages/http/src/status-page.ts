import { countText, durationText, escapeHtml, htmlDocument, htmlField, runStatusLabel, type HealthReport, type RunRecord } from '@lethe/engine/operations';
import type { BacklogCount } from './backlog.js';

/**
 * The daemon's read-only status page (`GET /`): health, next run, last runs, backlog and pause
 * state, as one page with inline styles and nothing fetched (docs/runbook.md#monitoring). Values
 * carry `data-field` with the health JSON field they show, as the report page does.
 */
export interface StatusFacts {
  readonly health: HealthReport;
  readonly version: string;
  readonly generatedAt: string;
  readonly runs: readonly RunRecord[];
  /** Null when the jobs table could not be read. */
  readonly backlog: readonly BacklogCount[] | null;
  readonly backlogCap: number;
}

export function statusPageHtml(f: StatusFacts): string {
  const h = f.health;
  const cls = h.status === 'healthy' ? 'ok' : h.status === 'degraded' ? 'warn' : 'bad';
  const body = `<h1>Lethe status</h1>
<p class="muted small">Version ${escapeHtml(f.version)}; as of ${escapeHtml(f.generatedAt)}. Read-only; <a href="report">latest monthly compliance report</a>.</p>
<h2>Health</h2>
<p>Status: <span class="status ${cls}">${htmlField('health.status', h.status)}</span></p>
${h.reasons.length > 0 ? `<ul>${h.reasons.map((r) => `<li>${escapeHtml(r)}</li>`).join('')}</ul>` : ''}
<table><tbody>
<tr><th>Next run</th><td>${htmlField('health.next_run', h.next_run ?? 'none scheduled')}</td></tr>
<tr><th>Last run</th><td>${htmlField('health.last_run', h.last_run ?? 'never')} (${htmlField('health.last_run_status', h.last_run_status ?? '-')})</td></tr>
<tr><th>Last success</th><td>${htmlField('health.last_success', h.last_success ?? 'never')}</td></tr>
<tr><th>Scheduler</th><td>${htmlField('health.scheduler_running', h.scheduler_running ? 'running' : 'not running')} (${htmlField('health.schedulers', h.schedulers)} live)</td></tr>
<tr><th>Deleted, last 24 h</th><td>${htmlField('health.deleted_last_24h', h.deleted_last_24h)}</td></tr>
<tr><th>Failing files, last 24 h</th><td>${htmlField('health.failed_last_24h', h.failed_last_24h)}</td></tr>
</tbody></table>
<h2>Pause</h2>
${pauseHtml(h)}
<h2>Backlog (expired rows still in the jobs table)</h2>
${backlogHtml(f.backlog, f.backlogCap)}
<h2>Last runs</h2>
${runsHtml(f.runs)}`;
  return htmlDocument('Lethe status', body);
}

function pauseHtml(h: HealthReport): string {
  if (!h.paused) return `<p>Paused: ${htmlField('health.paused', 'no')} (runs go ahead on schedule)</p>`;
  return `<p>Paused: <span class="status warn">${htmlField('health.paused', 'yes')}</span> by ${htmlField('health.paused_by', h.paused_by ?? '-')} at ${htmlField('health.paused_at', h.paused_at ?? '-')}</p>
<p>Reason: ${htmlField('health.pause_reason', h.pause_reason ?? '-')}</p>
<p class="small muted">Resume with <code>lethe resume --reason ...</code> (runbook EMERGENCY-001).</p>`;
}

function backlogHtml(backlog: readonly BacklogCount[] | null, cap: number): string {
  if (backlog === null) return '<p class="muted">unknown: the jobs table could not be read (see the service log)</p>';
  if (backlog.length === 0) return '<p class="muted">No purposes with a policy.</p>';
  const total = backlog.reduce((a, b) => a + b.count, 0);
  const rows = backlog.map(
    (b) =>
      `<tr><td>${escapeHtml(b.purpose)}</td><td class="n" data-backlog="${escapeHtml(b.purpose)}">${countText(b.count)}${b.count >= cap ? '+' : ''}</td></tr>`,
  );
  return `<table><thead><tr><th>Purpose</th><th>Expired rows</th></tr></thead><tbody>${rows.join('')}
<tr><th>Total</th><td class="n" data-backlog-total="">${countText(total)}</td></tr></tbody></table>`;
}

function runsHtml(runs: readonly RunRecord[]): string {
  if (runs.length === 0) return '<p class="muted">No runs yet.</p>';
  const rows = runs.map(
    (r) =>
      `<tr data-run="${escapeHtml(r.id)}"><td class="mono">${escapeHtml(r.id)}</td><td>${escapeHtml(r.trigger)}</td><td>${escapeHtml(r.startedAt)}</td><td>${escapeHtml(runStatusLabel(r))}</td>` +
      `<td class="n">${r.deleted === null ? '-' : countText(r.deleted)}</td><td class="n">${r.failed === null ? '-' : countText(r.failed)}</td><td class="n">${escapeHtml(durationText(r.durationSeconds))}</td></tr>`,
  );
  return `<table><thead><tr><th>Run</th><th>Trigger</th><th>Started</th><th>Status</th><th>Deleted</th><th>Failed</th><th>Duration</th></tr></thead><tbody>${rows.join('\n')}</tbody></table>`;
}
