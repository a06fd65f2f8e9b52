import type { Command } from 'commander';
import {
  countExpired, currentRun, databaseNow, evaluateHealth, gatherHealthFacts, inspectJobsTable, loadCurrentPolicies, policySelections,
  type Engine, type HealthReport, type RunRecord, type SchedulerRow,
} from '@lethe/engine';
import { ExitCode, printJson, printLines } from '../output.js';
import type { CommandContext } from '../program.js';
import { count, duration, plural, time } from '../render/format.js';
import { runJson, schedulerJson } from '../render/records.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';

/** A daemon whose heartbeat is older than this is not running (the daemon's own default). */
const STALE_AFTER_MS = 120_000;

export interface StatusReport {
  readonly checked_at: string;
  readonly health: HealthReport;
  readonly schedulers: readonly SchedulerRow[];
  readonly paused: boolean;
  readonly paused_by: string | null;
  readonly paused_at: string | null;
  readonly pause_reason: string | null;
  readonly last_run: RunRecord | null;
  readonly last_success: RunRecord | null;
  readonly current_run: RunRecord | null;
  readonly backlog: { readonly total: number; readonly by_purpose: Readonly<Record<string, number>>; readonly policy_version: number };
}

/** Runbook OP-002 (next run), OP-003 (scheduler state, pause), FM-001 (is it running?). */
export async function gatherStatus(engine: Engine): Promise<StatusReport> {
  const db = engine.pool;
  const now = await databaseNow(db);
  const [facts, running, table, policy] = await Promise.all([
    gatherHealthFacts(db, Date.parse(now), STALE_AFTER_MS),
    currentRun(db),
    inspectJobsTable(db, engine.options.jobs),
    loadCurrentPolicies(db),
  ]);
  const byPurpose = await countExpired(db, table, policySelections(policy.policies), now);
  return {
    checked_at: now,
    health: evaluateHealth(facts),
    schedulers: facts.schedulers,
    paused: facts.control.paused,
    paused_by: facts.control.pausedBy,
    paused_at: facts.control.pausedAt,
    pause_reason: facts.control.reason,
    last_run: facts.lastRun,
    last_success: facts.lastSuccess,
    current_run: running,
    backlog: { total: Object.values(byPurpose).reduce((a, n) => a + n, 0), by_purpose: byPurpose, policy_version: policy.version },
  };
}

export function registerStatus(program: Command, ctx: CommandContext): void {
  const command = program
    .command('status')
    .summary('schedule, next run, pause, last run, backlog (OP-002)')
    .description('schedule, next run, scheduler alive, paused (by, when, why), last run, run in progress, backlog by purpose (runbook OP-002, OP-003, FM-001)')
    .option('--json', 'print the status as JSON');
  addConnectionOptions(command, { storage: false }).action(async (flags: ConnectionFlags) => {
    const status = await withEngine(ctx, flags, gatherStatus);
    if (flags.json) printJson(ctx.io, statusJson(status));
    else printLines(ctx.io, statusLines(status));
    ctx.setExit(ExitCode.OK);
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
  return `${time(r.endedAt ?? r.startedAt)} ${r.status} (${r.trigger})${counts}, ${duration(r.durationSeconds)} [${r.id}]`;
}

export function statusLines(s: StatusReport): string[] {
  const alive = s.schedulers.filter((d) => d.alive);
  const first = alive[0] ?? s.schedulers[0];
  const lines = [
    `Health:       ${s.health.status}${s.health.reasons.length ? ` (${s.health.reasons.join('; ')})` : ''}`,
    `Schedule:     ${first ? `${first.schedule} (${first.timezone})` : 'unknown: no daemon has reported'}`,
    `Next run:     ${s.health.next_run ? time(s.health.next_run) : '-'}`,
    `Scheduler:    ${alive.length > 0
      ? `running (${alive.map((d) => `${d.host} pid ${d.pid} v${d.version}, last beat ${time(d.lastBeat)}`).join('; ')})`
      : s.schedulers.length > 0 ? `NOT RUNNING (last heartbeat ${time(s.schedulers[0]!.lastBeat)} from ${s.schedulers[0]!.host})` : 'NOT RUNNING (no daemon has ever reported)'}`,
    `Paused:       ${s.paused ? `YES, by ${s.paused_by ?? 'unknown'} at ${time(s.paused_at)}: ${s.pause_reason ?? 'no reason given'}` : 'no'}`,
    `Last run:     ${s.last_run ? runLine(s.last_run) : 'none yet'}`,
  ];
  if (s.last_run && s.last_success && s.last_success.id !== s.last_run.id) lines.push(`Last success: ${runLine(s.last_success)}`);
  const p = s.current_run?.progress as { processed?: number; total?: number | null } | null | undefined;
  lines.push(`In progress:  ${s.current_run ? `run ${s.current_run.id} (${s.current_run.trigger}) since ${time(s.current_run.startedAt)}${p?.processed !== undefined ? `, ${count(p.processed)}${p.total ? `/${count(p.total)}` : ''} processed` : ''}` : 'none'}`);
  lines.push(`Backlog:      ${plural(s.backlog.total, 'expired row')} (policy version ${s.backlog.policy_version})`);
  for (const [purpose, n] of Object.entries(s.backlog.by_purpose)) if (n > 0) lines.push(`  ${purpose}: ${count(n)}`);
  return lines;
}
