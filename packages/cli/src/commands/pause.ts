import type { Command } from 'commander';
import { currentRun, pause } from '@lethe/engine';
import { addActorOption, defaultActor } from '../actor.js';
import { ExitCode, printJson, printLines } from '../output.js';
import type { CommandContext } from '../program.js';
import { time } from '../render/format.js';
import { runJson } from '../render/records.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';

interface PauseFlags extends ConnectionFlags {
  readonly reason: string;
  readonly by?: string;
}

/** Runbook OP-003 / EMERGENCY-001 step 1: stop deletions everywhere (shared state in the database). */
export function registerPause(program: Command, ctx: CommandContext): void {
  const command = program
    .command('pause')
    .summary('pause deletions everywhere (OP-003, EMERGENCY-001)')
    .description('pause deletions for every replica (runbook OP-003, EMERGENCY-001): a run in progress stops at its next batch, scheduled runs are skipped until `lethe resume`')
    .requiredOption('--reason <text>', 'why (required; shown by `lethe status` and recorded in audit_logs)')
    .option('--json', 'print the pause state as JSON');
  addActorOption(command);
  addConnectionOptions(command, { storage: false }).action(async (flags: PauseFlags) => {
    const by = flags.by ?? defaultActor(ctx.io.env);
    const { state, running } = await withEngine(ctx, flags, async (engine) => ({
      state: await pause(engine.pool, { by, reason: flags.reason }),
      running: await currentRun(engine.pool),
    }));
    if (flags.json) {
      printJson(ctx.io, { paused: state.paused, paused_by: state.pausedBy, paused_at: state.pausedAt, reason: state.reason, current_run: running && runJson(running) });
    } else {
      printLines(ctx.io, [
        `Lethe PAUSED by ${state.pausedBy ?? by} at ${time(state.pausedAt)}: ${state.reason ?? flags.reason}`,
        running
          ? `A run is in progress (${running.id}, started ${time(running.startedAt)}): it stops at its next batch and is recorded as paused. Check with \`lethe status\`.`
          : 'No run is in progress. Scheduled runs are skipped until `lethe resume`.',
      ]);
    }
    ctx.setExit(ExitCode.OK);
  });
}
