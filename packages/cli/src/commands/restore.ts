import type { Command } from 'commander';
import { restoreFile, type RestoreResult } from '@lethe/engine/operations';
import { addActorOption, defaultActor } from '../actor.js';
import { ExitCode, printJson, printLines, UsageError } from '../output.js';
import type { CommandContext } from '../program.js';
import { time } from '../render/format.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';
import { restoreFromBackupCommand } from './restore-from-backup.js';

interface RestoreFlags extends ConnectionFlags {
  readonly hold?: string;
  readonly by?: string;
  readonly wait?: string;
  readonly from?: string;
}

/** Undo window (docs/safety.md#undo-window-default-off) / runbook FM-003: bring an erased file back from the trash within its undo window. */
export function registerRestore(program: Command, ctx: CommandContext): void {
  const command = program
    .command('restore')
    .summary('bring an erased file and its rows back from the trash (undo window)')
    .description(
      'within the undo window, move the file back from the trash to its key and recreate its jobs rows from the ledger (audited as cleanup_restored). Past the window it says the file is gone and exits 1',
    )
    .argument('<file_key>', 'the file key as it was in jobs.file_key')
    .option('--hold <reason>', 'also place a legal hold on the key, so the next run does not erase the restored rows again')
    .option('--wait <seconds>', 'wait this long for a run in progress to end instead of refusing at once')
    .option(
      '--from <backup>',
      'past the undo window (runbook EMERGENCY-002): copy the file back from this backup (a directory or s3://bucket/prefix with the same key layout), recreate its rows from the ledger, and hold the key (--hold sets the reason). An s3:// backup without ?endpoint=/&region= takes the endpoint, region, path style and credentials of the storage (LETHE_STORAGE); one naming another endpoint takes nothing from it',
    )
    .option('--json', 'print the result as JSON');
  addActorOption(command);
  addConnectionOptions(command, { storage: true }).action(async (fileKey: string, flags: RestoreFlags) => {
    if (fileKey.trim() === '') throw new UsageError('file_key: expected a non-empty file key like "uploads/2025/11/invoice.pdf"');
    const wait = flags.wait === undefined ? undefined : seconds('--wait', flags.wait);
    if (flags.from !== undefined) return restoreFromBackupCommand(ctx, fileKey, { ...flags, from: flags.from }, wait === undefined ? undefined : wait * 1000);
    const by = flags.by ?? defaultActor(ctx.io.env);
    const result = await withEngine(ctx, flags, (engine) =>
      restoreFile(engine, {
        fileKey,
        by,
        ...(flags.hold === undefined ? {} : { holdReason: flags.hold }),
        ...(wait === undefined ? {} : { lockWaitMs: wait * 1000 }),
      }),
    );
    if (flags.json) printJson(ctx.io, result);
    else printLines(ctx.io, restoreLines(result));
    ctx.setExit(ExitCode.OK);
  });
}

export function seconds(flag: string, value: string): number {
  if (!/^\d{1,6}$/.test(value.trim())) throw new UsageError(`${flag}: expected a whole number of seconds, got ${JSON.stringify(value)}`);
  return Number(value);
}

export function restoreLines(r: RestoreResult): string[] {
  const lines = [
    `RESTORED ${r.file_key} from ${r.trash_location} (moved to the trash by run ${r.trashed_by_run} at ${time(r.trashed_at)}; it would have been purged after ${time(r.purge_after)})`,
    `  rows recreated: ${r.restored_job_ids.length > 0 ? r.restored_job_ids.join(', ') : 'none'}${r.already_present_job_ids.length > 0 ? `; already present, left as they are: ${r.already_present_job_ids.join(', ')}` : ''}`,
  ];
  if (r.resumed) lines.push('  (an earlier restore had moved the file back; this one recorded it)');
  if (r.hold_id) lines.push(`  legal hold ${r.hold_id} placed on the key: runs keep it until \`lethe unhold ${r.file_key}\``);
  else if (r.still_expired_job_ids.length > 0) {
    lines.push(
      `  WARNING: rows ${r.still_expired_job_ids.join(', ')} are still expired under the current policy: the next run erases them again. Fix the policy (\`lethe policies set\`) or hold the key (\`lethe hold ${r.file_key} --reason ...\`).`,
    );
  }
  return lines;
}
