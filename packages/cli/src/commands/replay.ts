import type { Command } from 'commander';
import type { ReplayReport } from '@lethe/engine/operations';
import { addActorOption, defaultActor } from '../actor.js';
import { ExitCode, printJson, printLines } from '../output.js';
import type { CommandContext } from '../program.js';
import { plural } from '../render/format.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';

interface ReplayFlags extends ConnectionFlags {
  readonly since?: string;
  readonly dryRun?: boolean;
  readonly by?: string;
}

/** After a database restore (docs/safety.md#erasures-survive-a-backup-restore): re-erase what the erasure journal says was erased. */
export function registerReplay(program: Command, ctx: CommandContext): void {
  const command = program
    .command('replay')
    .summary('re-erase, after a database restore, what the erasure journal says was erased')
    .description(
      'after a database (or storage) restore: re-erase rows and files the erasure journal says were erased and the ledger no longer records, with a ledger row `replayed`; legal holds win, and a row created after the erasure (a new document at a reused key) is never touched. Scheduled runs wait for this once a restore is detected. Exits 1 when a delete failed',
    )
    .option('--since <time>', "only erasures at or after this time (ISO 8601, e.g. the backup's time)")
    .option('--dry-run', 'count what would be re-erased; delete nothing')
    .option('--json', 'print the report as JSON');
  addActorOption(command);
  addConnectionOptions(command, { storage: true }).action(async (flags: ReplayFlags) => {
    const report = await withEngine(ctx, flags, (engine) =>
      engine.replay({
        dryRun: flags.dryRun === true,
        requestedBy: flags.by ?? defaultActor(ctx.io.env),
        ...(flags.since === undefined ? {} : { since: flags.since }),
      }),
    );
    if (flags.json) printJson(ctx.io, report);
    else printLines(ctx.io, replayLines(report));
    ctx.setExit(report.counts.failed > 0 ? ExitCode.FAILURES : ExitCode.OK);
  });
}

export function replayLines(r: ReplayReport): string[] {
  const c = r.counts;
  const verb = r.dry_run ? 'DRY RUN: would re-erase' : 'Re-erased';
  const lines = [
    `${verb} ${plural(c.redone_rows, 'row')} that came back (${plural(c.redone_files, 'file')} back without a row${c.kept_shared > 0 ? `, ${c.kept_shared} rows whose file another row uses now` : ''}); journal ${r.journal}${r.since ? ` since ${r.since}` : ''}.`,
    `Read ${plural(c.objects, 'journal batch', 'journal batches')} (${plural(c.entries, 'erasure')}): ${c.recorded} still in the ledger, ${c.not_back} not back, ${c.held} held (kept), ${c.newer} newer rows or reused keys (untouched), ${c.refused} refused.`,
  ];
  if (c.failed > 0) lines.push(`FAIL: ${plural(c.failed, 'delete')} failed; those rows are kept: run lethe replay again.`);
  lines.push(
    r.restore_detected
      ? 'A restore is still detected: scheduled runs stay refused (see docs/runbook.md#after-a-database-restore).'
      : r.dry_run
        ? 'No restore is detected.'
        : 'No restore is detected now: scheduled runs go ahead.',
  );
  return lines;
}
