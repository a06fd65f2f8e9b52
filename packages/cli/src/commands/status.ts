import type { Command } from 'commander';
import { inspectJobsTable, loadCurrentPolicies, type Engine, type SchedulerRow } from '@lethe/engine';
import {
  countExpiredBacklog,
  currentRun,
  databaseNow,
  evaluateHealth,
  runStatusLabel,
  gatherHealthFacts,
  policySelections,
  runsInFlight,
  type HealthReport,
  type RunInFlight,
  type RunRecord,
} from '@lethe/engine/operations';
import { DEFAULT_STOPPED_RETENTION_MS, SETTINGS } from '@lethe/engine';
import { durationMs } from '../durations.js';
import { ExitCode, printJson, printLines } from '../output.js';
import type { CommandContext } from '../program.js';
import { count, duration, inPurposeOrder, plural, table, time } from '../render/format.js';
import { createPalette, type Palette } from '../render/colour.js';
import { runJson, schedulerJson } from '../render/records.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';
import { VERSION } from '../version.js';

/** A daemon whose heartbeat is older than this is not running (the daemon's own default; LETHE_STALE_AFTER_MS). */
export const DEFAULT_STALE_AFTER_MS: number = SETTINGS.staleAfterMs.default;

/** Schedulers listed one per line (the most recent beats first). */
const SCHEDULERS_SHOWN = 10;

export interface StatusReport {
  readonly checked_at: string;
  /** This CLI's version; each scheduler and run carries its own (EMERGENCY-003). */
  readonly version: string;
  readonly stale_after_ms: number;
  /** Schedulers that stopped cleanly longer ago than this are not listed (runbook OP-003). */
  readonly stopped_retention_ms: number;
  readonly health: HealthReport;
  readonly schedulers: readonly SchedulerRow[];
  readonly paused: boolean;
  readonly paused_by: string | null;
  readonly paused_at: string | null;
  readonly pause_reason: string | null;
  readonly last_run: RunRecord | null;
  readonly last_success: RunRecord | null;
  readonly current_run: RunRecord | null;
  /** Every run marked running, with its host, heartbeat and progress (EMERGENCY-001 step 2). */
  readonly runs_in_flight: readonly RunInFlight[];
  readonly backlog: { readonly total: number; readonly by_purpose: Readonly<Record<string, number>>; readonly policy_version: number };
}

/** Runbook OP-002 (next run), OP-003 (scheduler state, pause), FM-001 (is it running?). */
export async function gatherStatus(
  engine: Engine,
  staleAfterMs = DEFAULT_STALE_AFTER_MS,
  stoppedRetentionMs = DEFAULT_STOPPED_RETENTION_MS,
): Promise<StatusReport> {
  const db = engine.pool;
  const now = await databaseNow(db);
  const jobs = await inspectJobsTable(db, engine.options.jobs);
  const [facts, running, inFlight, policy] = await Promise.all([
    gatherHealthFacts(db, Date.parse(now), staleAfterMs, jobs, stoppedRetentionMs),
    currentRun(db),
    runsInFlight(db, engine.options.groupStaleMs),
    loadCurrentPolicies(db),
  ]);
  const byPurpose = await countExpiredBacklog(db, jobs, policySelections(policy.policies), now);
  return {
    checked_at: now,
    version: VERSION,
    stale_after_ms: staleAfterMs,
    stopped_retention_ms: stoppedRetentionMs,
    health: evaluateHealth(facts),
    schedulers: facts.schedulers,
    paused: facts.control.paused,
    paused_by: facts.control.pausedBy,
    paused_at: facts.control.pausedAt,
    pause_reason: facts.control.reason,
    last_run: facts.lastRun,
    last_success: facts.lastSuccess,
    current_run: running,
    runs_in_flight: inFlight,
    backlog: { total: Object.values(byPurpose).reduce((a, n) => a + n, 0), by_purpose: byPurpose, policy_version: policy.version },
  };
}

export function registerStatus(program: Command, ctx: CommandContext): void {
  const command = program
    .command('status')
    .summary('schedule, next run, pause, last run, backlog (OP-002)')
    .description(
      'schedule, next run, schedulers (instance, host, version, started, last beat, next run, alive or stale after LETHE_STALE_AFTER_MS), paused (by, when, why), last run, runs in progress (host, progress, heartbeat), backlog by purpose, versions (runbook OP-002, OP-003, FM-001, EMERGENCY-001/003). Exit 0 when healthy, 1 when degraded or unhealthy (the Health line says why), 2 on bad usage or configuration',
    )
    .option('--json', 'print the status as JSON')
    .option('--stopped-retention <duration>', 'list daemons that stopped cleanly until this long after their last beat (runbook OP-003)', '7d');
  addConnectionOptions(command, { storage: false }).action(async (flags: ConnectionFlags & { stoppedRetention: string }) => {
    const stoppedRetentionMs = durationMs('--stopped-retention', flags.stoppedRetention);
    const staleAfterMs = ctx.config({ databaseUrl: flags.databaseUrl }).staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
    const status = await withEngine(ctx, flags, (engine) => gatherStatus(engine, staleAfterMs, stoppedRetentionMs));
    if (flags.json) printJson(ctx.io, statusJson(status));
    else printLines(ctx.io, statusLines(status, ctx.paint));
    // Scripts and probes gate on the exit code (runbook OP-002): only healthy is 0.
    ctx.setExit(status.health.status === 'healthy' ? ExitCode.OK : ExitCode.FAILURES);
  });
}

function statusJson(s: StatusReport): Record<string, unknown> {
  return {
    ...s,
    schedulers: s.schedulers.map(schedulerJson),
    last_run: s.last_run && runJson(s.last_run),
    last_success: s.last_success && runJson(s.last_success),
    current_run: s.current_run && runJson(s.current_run),
  };
}

function runLine(r: RunRecord): string {
  const counts = r.deleted === null ? '' : `: ${count(r.deleted)} deleted, ${count(r.failed ?? 0)} failed`;
  return `${time(r.endedAt ?? r.startedAt)} ${runStatusLabel(r)} (${r.trigger})${counts}, ${duration(r.durationSeconds)} [${r.id}]`;
}

export function statusLines(s: StatusReport, paint: Palette = createPalette(false)): string[] {
  const alive = s.schedulers.filter((d) => d.alive);
  const first = alive[0] ?? s.schedulers[0];
  const versions = [...new Set(s.schedulers.filter((d) => d.alive).map((d) => `v${d.version}`))];
  const lines = [
    `Health:       ${paint.state(s.health.status)}${s.health.reasons.length ? ` (${s.health.reasons.join('; ')})` : ''}`,
    `Version:      lethe ${s.version} (this command)${versions.length ? `; schedulers running ${versions.join(', ')}` : ''}`,
    `Schedule:     ${first ? `${first.schedule} (${first.timezone})` : 'unknown: no daemon has reported'}`,
    `Next run:     ${s.health.next_run ? time(s.health.next_run) : '-'}`,
    `Scheduler:    ${
      alive.length > 0
        ? `running (${alive.map((d) => `${d.host} pid ${d.pid} v${d.version}, last beat ${time(d.lastBeat)}`).join('; ')})`
        : s.schedulers.length > 0
          ? `${paint.bad('NOT RUNNING')} (last heartbeat ${time(s.schedulers[0]!.lastBeat)} from ${s.schedulers[0]!.host})`
          : `${paint.bad('NOT RUNNING')} (no daemon has ever reported)`
    }`,
    ...schedulerLines(s, paint),
    `Paused:       ${s.paused ? `${paint.warn('YES')}, by ${s.paused_by ?? 'unknown'} at ${time(s.paused_at)}: ${s.pause_reason ?? 'no reason given'}` : 'no'}`,
    `Last run:     ${s.last_run ? runLine(s.last_run) : 'none yet'}`,
  ];
  if (s.last_run && s.last_success && s.last_success.id !== s.last_run.id) lines.push(`Last success: ${runLine(s.last_success)}`);
  const live = s.runs_in_flight;
  if (live.length === 0) lines.push('In progress:  none');
  live.forEach((r, i) => lines.push(`${i === 0 ? 'In progress:  ' : '              '}${inFlightLine(r)}`));
  lines.push(`Backlog:      ${plural(s.backlog.total, 'expired row')} (policy version ${s.backlog.policy_version})`);
  for (const [purpose, n] of inPurposeOrder(s.backlog.by_purpose)) if (n > 0) lines.push(`  ${purpose}: ${count(n)}`);
  return lines;
}

/** One line per scheduler: a stale one is a daemon that died (FM-001), a stopped one shut down cleanly. */
function schedulerLines(s: StatusReport, paint: Palette): string[] {
  if (s.schedulers.length === 0) return [];
  const rows = s.schedulers
    .slice(0, SCHEDULERS_SHOWN)
    .map((d) => [
      d.instanceId,
      d.host,
      `v${d.version}`,
      time(d.startedAt),
      time(d.lastBeat),
      time(d.nextRun),
      d.alive
        ? 'alive'
        : d.state === 'stopped'
          ? 'stopped'
          : `STALE (silent for ${duration(Math.max(0, Date.parse(s.checked_at) - Date.parse(d.lastBeat)) / 1000)}, over ${duration(s.stale_after_ms / 1000)})`,
    ]);
  const more = s.schedulers.length > SCHEDULERS_SHOWN ? [`  ... and ${s.schedulers.length - SCHEDULERS_SHOWN} more (lethe status --json)`] : [];
  // The state is the last column: coloured after the layout, so escape codes never skew the widths.
  const lines = table(['instance', 'host', 'version', 'started', 'last beat', 'next run', 'state'], rows).map((l, i) => {
    const state = i === 0 ? undefined : rows[i - 1]?.[6];
    return `  ${state !== undefined && l.endsWith(state) ? `${l.slice(0, l.length - state.length)}${paint.state(state)}` : l}`;
  });
  return [...lines, ...more];
}

function inFlightLine(r: RunInFlight): string {
  const p = r.progress as { processed?: number; total?: number | null; deleted?: number; failed?: number } | null;
  const percent = p?.processed !== undefined && p.total ? ` (${Math.min(100, Math.floor((p.processed / p.total) * 1000) / 10)}%)` : '';
  const progress =
    p?.processed !== undefined
      ? `, ${count(p.processed)}${p.total ? `/${count(p.total)}${percent}` : ''} processed (${count(p.deleted ?? 0)} deleted, ${count(p.failed ?? 0)} failed)`
      : ', no progress reported yet';
  const beat = r.fresh
    ? `last heartbeat ${duration(r.heartbeat_age_seconds)} ago`
    : `NO HEARTBEAT for ${duration(r.heartbeat_age_seconds)}: its process is probably gone (the next run records it interrupted)`;
  return `run ${r.id} (${r.trigger}${r.dry_run ? ', dry run' : ''}) on ${r.host ?? '?'} pid ${r.pid ?? '?'} v${r.version ?? '?'}, since ${time(r.started_at)}${progress}; ${beat}`;
}
