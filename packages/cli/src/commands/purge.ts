import type { Command } from 'commander';
import { purgeTrash, type PurgeReport } from '@lethe/engine/operations';
import { addActorOption, defaultActor } from '../actor.js';
import { ExitCode, printJson, printLines } from '../output.js';
import type { CommandContext } from '../program.js';
import { plural } from '../render/format.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';
import { seconds } from './restore.js';

interface PurgeFlags extends ConnectionFlags {
  readonly dryRun?: boolean;
  readonly by?: string;
  readonly wait?: string;
}

/** The undo window's end (docs/safety.md#undo-window-default-off): trash past its grace is deleted for good (runs do this too, first). */
export function registerPurge(program: Command, ctx: CommandContext): void {
  const command = program
    .command('purge')
    .summary('delete trash past its undo window for good')
    .description(
      'delete trashed files whose undo window has ended (held files never), recording each purge in the ledger; every run does this first. Exits 1 when some could not be deleted',
    )
    .option('--dry-run', 'count what is due; delete nothing')
    .option('--wait <seconds>', 'wait this long for a run in progress to end instead of refusing at once')
    .option('--json', 'print the report as JSON');
  addActorOption(command);
  addConnectionOptions(command, { storage: true }).action(async (flags: PurgeFlags) => {
    const wait = flags.wait === undefined ? undefined : seconds('--wait', flags.wait);
    const by = flags.by ?? defaultActor(ctx.io.env);
    const report = await withEngine(ctx, flags, (engine) =>
      purgeTrash(engine, {
        by,
        dryRun: flags.dryRun === true,
        ...(wait === undefined ? {} : { lockWaitMs: wait * 1000 }),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      }),
    );
    if (flags.json) printJson(ctx.io, report);
    else printLines(ctx.io, purgeLines(report));
    ctx.setExit(report.failed > 0 || report.newer > 0 ? ExitCode.FAILURES : ExitCode.OK);
  });
}

export function purgeLines(r: PurgeReport): string[] {
  if (r.dry_run)
    return [`DRY RUN: ${plural(r.due, 'trashed file record')} past the undo window would be purged; ${plural(r.held, 'record')} held (kept while held).`];
  const lines = [
    `Purged ${plural(r.purged, 'trashed file record')} (${r.files_deleted} files deleted, ${r.files_already_gone} already gone); ${r.held} held, kept.`,
  ];
  if (r.failed > 0) {
    lines.push(`FAIL: ${plural(r.failed, 'record')} could not be purged (kept in the trash, tried again next time):`);
    for (const f of r.failures.filter((x) => x.code !== 'LETHE_E_TRASH_NEWER').slice(0, 10)) lines.push(`  ${f.trash_location}: ${f.code} ${f.message}`);
  }
  if (r.newer > 0) {
    lines.push(
      `LEFT IN PLACE: ${plural(r.newer, 'record')} whose trash location now holds a newer object (not the trashed file; never deleted, the record stays):`,
    );
    for (const f of r.failures.filter((x) => x.code === 'LETHE_E_TRASH_NEWER').slice(0, 10)) lines.push(`  ${f.trash_location}: ${f.message}`);
  }
  return lines;
}
