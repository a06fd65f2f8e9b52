import type { Command } from 'commander';
import { pruneEvidence, type PruneReport } from '@lethe/engine/operations';
import { addActorOption, defaultActor } from '../actor.js';
import { ExitCode, printJson, printLines } from '../output.js';
import type { CommandContext } from '../program.js';
import { count, time } from '../render/format.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';

interface PruneFlags extends ConnectionFlags {
  readonly olderThan: string;
  readonly confirm?: boolean;
  readonly by?: string;
}

/** Retention of evidence (docs/safety.md#retention-of-evidence): Lethe's own audit and ledger rows older than a year or more. */
export function registerPrune(program: Command, ctx: CommandContext): void {
  const command = program
    .command('prune')
    .summary("delete Lethe's own evidence older than a duration (at least 1 year)")
    .description(
      "delete Lethe's own audit_logs rows (never the platform's) and ledger rows older than --older-than; anything younger than one year is refused (DPDP Rules 2025, rules 6(1)(e) and 8(3)). Without --confirm it only counts",
    )
    .requiredOption('--older-than <duration>', 'e.g. 1y, 2y, 18 months (at least one year)')
    .option('--confirm', 'delete (without it: count only)')
    .option('--json', 'print the report as JSON');
  addActorOption(command);
  addConnectionOptions(command, { storage: false }).action(async (flags: PruneFlags) => {
    const by = flags.by ?? defaultActor(ctx.io.env);
    const report = await withEngine(ctx, flags, (engine) => pruneEvidence(engine, { olderThan: flags.olderThan, confirm: flags.confirm === true, by }));
    if (flags.json) printJson(ctx.io, report);
    else printLines(ctx.io, pruneLines(report));
    ctx.setExit(ExitCode.OK);
  });
}

export function pruneLines(r: PruneReport): string[] {
  const what = `${count(r.audit_rows)} of Lethe's audit_logs rows and ${count(r.ledger_rows)} ledger rows older than ${r.older_than} (before ${time(r.cutoff)})`;
  return r.dry_run ? [`DRY RUN: would delete ${what}. Nothing deleted; add --confirm to delete.`] : [`Deleted ${what}; recorded as audit row ${r.audit_id}.`];
}
