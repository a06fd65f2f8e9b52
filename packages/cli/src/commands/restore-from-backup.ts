import { restoreFromBackup, type RestoreFromBackupResult } from '@lethe/engine/operations';
import { defaultActor } from '../actor.js';
import { ExitCode, printJson, printLines } from '../output.js';
import type { CommandContext } from '../program.js';
import { time } from '../render/format.js';
import { withEngine, type ConnectionFlags } from '../session.js';

export interface RestoreFromBackupFlags extends ConnectionFlags {
  readonly from: string;
  readonly hold?: string;
  readonly by?: string;
}

/**
 * `lethe restore <file_key> --from <backup>` (runbook EMERGENCY-002 past the undo
 * window): copy the file back from a backup directory or s3:// URL, recreate its rows from the
 * ledger, and hold the key until someone reviews it. The undo-window restore is restore.ts's own.
 */
export async function restoreFromBackupCommand(
  ctx: CommandContext,
  fileKey: string,
  flags: RestoreFromBackupFlags,
  lockWaitMs: number | undefined,
): Promise<void> {
  const by = flags.by ?? defaultActor(ctx.io.env);
  const result = await withEngine(ctx, flags, (engine) =>
    restoreFromBackup(engine, {
      fileKey,
      from: flags.from,
      by,
      ...(flags.hold === undefined ? {} : { holdReason: flags.hold }),
      ...(lockWaitMs === undefined ? {} : { lockWaitMs }),
    }),
  );
  if (flags.json) printJson(ctx.io, result);
  else printLines(ctx.io, restoreFromBackupLines(result));
  ctx.setExit(ExitCode.OK);
}

export function restoreFromBackupLines(r: RestoreFromBackupResult): string[] {
  const lines = [
    `RESTORED ${r.file_key} from the backup ${r.from} (${r.bytes} bytes${r.resumed ? '; an earlier, interrupted restore had copied it' : ''}); it was erased by run ${r.erased_by_run} at ${time(r.erased_at)}`,
    `  rows recreated: ${r.restored_job_ids.length > 0 ? r.restored_job_ids.join(', ') : 'none'}${r.already_present_job_ids.length > 0 ? `; already present, left as they are: ${r.already_present_job_ids.join(', ')}` : ''}`,
  ];
  if (r.backup_settings_from_storage.length > 0) {
    lines.push(`  the backup's ${r.backup_settings_from_storage.join(', ')} taken from the storage's settings (LETHE_STORAGE): the --from URL gave none`);
  }
  if (r.rebuilt_from_columns_job_ids.length > 0) {
    lines.push(
      `  rows ${r.rebuilt_from_columns_job_ids.join(', ')} were rebuilt from the ledger's columns only (id, purpose, created_at): their full copy was dropped when the undo window ended; fill in the rest by hand`,
    );
  }
  lines.push(`  legal hold ${r.hold_id} placed on the key: runs keep it until someone reviews it and runs \`lethe unhold ${r.file_key}\``);
  if (r.still_expired_job_ids.length > 0)
    lines.push(
      `  rows ${r.still_expired_job_ids.join(', ')} are still expired under the current policy: only the hold keeps them; fix the policy (\`lethe policies set\` / \`revert\`) before releasing it`,
    );
  return lines;
}
