import type { Command } from 'commander';
import { readControl, resume } from '@lethe/engine';
import { addActorOption, defaultActor } from '../actor.js';
import { ExitCode, printJson, printLines } from '../output.js';
import type { CommandContext } from '../program.js';
import { time } from '../render/format.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';

interface ResumeFlags extends ConnectionFlags {
  readonly reason?: string;
  readonly by?: string;
}

/** Runbook OP-003 / EMERGENCY-001 step 5: resume, only after the fix is confirmed. */
export function registerResume(program: Command, ctx: CommandContext): void {
  const command = program
    .command('resume')
    .summary('resume deletions after a pause')
    .description('resume deletions after `lethe pause` (runbook OP-003, EMERGENCY-001 step 5); recorded in audit_logs')
    .option('--reason <text>', 'why it is safe to resume (recorded in audit_logs)')
    .option('--json', 'print the pause state as JSON');
  addActorOption(command);
  addConnectionOptions(command, { storage: false }).action(async (flags: ResumeFlags) => {
    const by = flags.by ?? defaultActor(ctx.io.env);
    const { before, after } = await withEngine(ctx, flags, async (engine) => {
      const was = await readControl(engine.pool);
      return { before: was, after: await resume(engine.pool, { by, ...(flags.reason ? { reason: flags.reason } : {}) }, engine.options.notifier) };
    });
    if (flags.json) {
      printJson(ctx.io, {
        paused: after.paused,
        resumed_by: by,
        was_paused: before.paused,
        was_paused_by: before.paused ? before.pausedBy : null,
        was_paused_at: before.paused ? before.pausedAt : null,
        pause_reason: before.paused ? before.reason : null,
      });
    } else {
      printLines(ctx.io, [
        before.paused
          ? `Lethe RESUMED by ${by} (it was paused by ${before.pausedBy ?? 'unknown'} at ${time(before.pausedAt)}: ${before.reason ?? 'no reason given'})`
          : `Lethe was not paused; nothing changed (recorded as resumed by ${by})`,
        'The next scheduled run deletes again; `lethe run` works now.',
      ]);
    }
    ctx.setExit(ExitCode.OK);
  });
}
