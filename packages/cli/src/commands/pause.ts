import type { Command } from 'commander';
import { pause } from '@lethe/engine';
import { currentRun, waitForNoRunInFlight, type RunInFlight, type WaitForRunsResult } from '@lethe/engine/operations';
import { addActorOption, defaultActor } from '../actor.js';
import { waitDurationMs } from '../durations.js';
import { ExitCode, printJson, printLines, UsageError } from '../output.js';
import type { CommandContext } from '../program.js';
import { count, duration, time } from '../render/format.js';
import { runJson } from '../render/records.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';

interface PauseFlags extends ConnectionFlags {
  readonly reason: string;
  readonly by?: string;
  readonly wait?: boolean;
  readonly timeout?: string;
}

/** `--wait` waits this long by default for runs in flight to stop at their batch boundary. */
const DEFAULT_WAIT = '5m';

/**
 * Runbook OP-003 / EMERGENCY-001 steps 1-2: stop deletions everywhere (shared state in the
 * database) and, with --wait, return only once no real run is in flight: every run row still
 * `running` has stopped beating (runbook EMERGENCY-001). The webhook, when configured, hears of the pause.
 */
export function registerPause(program: Command, ctx: CommandContext): void {
  const command = program
    .command('pause')
    .summary('pause deletions everywhere (OP-003, EMERGENCY-001)')
    .description(
      'pause deletions for every replica (runbook OP-003, EMERGENCY-001): a run in progress stops at its next batch, scheduled runs are skipped until `lethe resume`. With --wait, returns only when no run is in flight (exit 1 if one still is after --timeout)',
    )
    .requiredOption('--reason <text>', 'why (required; shown by `lethe status` and recorded in audit_logs)')
    .option('--wait', 'after pausing, wait until no run is in flight (a run row `running` with a fresh heartbeat)')
    .option('--timeout <duration>', `with --wait: give up after this long, e.g. 90s, 5m (default ${DEFAULT_WAIT}); exit 1 if a run is still in flight`)
    .option('--json', 'print the pause state as JSON');
  addActorOption(command);
  addConnectionOptions(command, { storage: false }).action(async (flags: PauseFlags) => {
    if (flags.timeout !== undefined && !flags.wait) throw new UsageError('--timeout: only with --wait (how long to wait for runs in flight)');
    const timeoutMs = flags.wait ? waitDurationMs('--timeout', flags.timeout ?? DEFAULT_WAIT) : 0;
    const by = flags.by ?? defaultActor(ctx.io.env);
    const { state, running, waited } = await withEngine(ctx, flags, async (engine) => {
      const paused = await pause(engine.pool, { by, reason: flags.reason }, engine.options.notifier);
      const wait = flags.wait
        ? await waitForNoRunInFlight(engine.pool, { timeoutMs, staleAfterMs: engine.options.groupStaleMs, ...(ctx.signal ? { signal: ctx.signal } : {}) })
        : null;
      return { state: paused, running: wait ? null : await currentRun(engine.pool), waited: wait };
    });
    if (flags.json) {
      printJson(ctx.io, {
        paused: state.paused,
        paused_by: state.pausedBy,
        paused_at: state.pausedAt,
        reason: state.reason,
        current_run: waited ? (waited.still_running[0] ?? null) : running && runJson(running),
        ...(waited ? { wait: waited } : {}),
      });
    } else {
      printLines(ctx.io, [
        `Lethe PAUSED by ${state.pausedBy ?? by} at ${time(state.pausedAt)}: ${state.reason ?? flags.reason}`,
        ...afterPause(running, waited),
      ]);
    }
    if (waited && !waited.idle) {
      ctx.io.stderr.write(
        `lethe: --timeout: ${plainRuns(waited.still_running)} still in flight after ${duration(timeoutMs / 1000)}; Lethe stays paused (check \`lethe status\`, then wait again)\n`,
      );
      ctx.setExit(ExitCode.FAILURES);
    } else ctx.setExit(ExitCode.OK);
  });
}

function afterPause(running: Awaited<ReturnType<typeof currentRun>>, waited: WaitForRunsResult | null): string[] {
  if (waited?.idle) return [`No run is in flight (waited ${duration(waited.waited_ms / 1000)}). Scheduled runs are skipped until \`lethe resume\`.`];
  if (waited) return waited.still_running.map((r) => `STILL IN FLIGHT: ${inFlight(r)}`);
  return [
    running
      ? `A run is in progress (${running.id}, started ${time(running.startedAt)}): it stops at its next batch and is recorded as paused. Check with \`lethe status\` (or pause with --wait).`
      : 'No run is in progress. Scheduled runs are skipped until `lethe resume`.',
  ];
}

function inFlight(r: RunInFlight): string {
  const processed = (r.progress as { processed?: number } | null)?.processed;
  return `run ${r.id} on ${r.host ?? '?'} since ${time(r.started_at)}${processed === undefined ? '' : `, ${count(processed)} processed`}, last heartbeat ${duration(r.heartbeat_age_seconds)} ago`;
}

function plainRuns(runs: readonly RunInFlight[]): string {
  return runs.length === 1 ? `run ${runs[0]!.id} on ${runs[0]!.host ?? '?'} is` : `${runs.length} runs are`;
}
