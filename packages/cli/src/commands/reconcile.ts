import type { Command } from 'commander';
import { reconcile, type ReconcileReport } from '@lethe/engine';
import { addActorOption, defaultActor } from '../actor.js';
import { durationMs, percentFraction } from '../durations.js';
import { ExitCode, printJson, printLines } from '../output.js';
import type { CommandContext } from '../program.js';
import { count, duration, plural, time } from '../render/format.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';

interface ReconcileFlags extends ConnectionFlags {
  readonly apply?: boolean;
  readonly minAge: string;
  readonly maxOrphanShare: string;
  readonly prefix?: string;
  readonly by?: string;
}

/** Runbook FM-005 (storage-DB inconsistency), replacing its orphan DELETE. */
export function registerReconcile(program: Command, ctx: CommandContext): void {
  const command = program
    .command('reconcile')
    .summary('orphan files and rows, dry run unless --apply (FM-005)')
    .description('find orphan files (in storage, no row, no ledger entry) and orphan rows (row, no file), older than a minimum age (runbook FM-005). Dry run unless --apply. Exits 1 when orphans are found and not removed, when it refuses, or when an action failed')
    .option('--apply', 'delete orphan files and rows, recording each in the ledger and audit_logs (takes the run lock; refused while paused)')
    .option('--min-age <duration>', 'files and rows newer than this are never touched (uploads in flight)', '24h')
    .option('--max-orphan-share <percent>', 'refuse to act when more than this share of files or rows look orphaned (a wrong prefix, an empty mount)', '5%')
    .option('--prefix <prefix>', 'only list storage under this sub-prefix')
    .option('--json', 'print the report as JSON');
  addActorOption(command);
  addConnectionOptions(command, { storage: true }).action(async (flags: ReconcileFlags) => {
    const minAgeMs = durationMs('--min-age', flags.minAge);
    const maxOrphanShare = percentFraction('--max-orphan-share', flags.maxOrphanShare);
    const report = await withEngine(ctx, flags, (engine) => reconcile(engine, {
      apply: flags.apply === true, by: flags.by ?? defaultActor(ctx.io.env), minAgeMs, maxOrphanShare,
      ...(flags.prefix ? { prefix: flags.prefix } : {}), ...(ctx.signal ? { signal: ctx.signal } : {}),
    }));
    if (flags.json) printJson(ctx.io, report);
    else printLines(ctx.io, reconcileLines(report));
    const failed = report.actions !== null && report.actions.files_failed > 0;
    ctx.setExit(report.status === 'clean' || (report.status === 'applied' && !failed) ? ExitCode.OK : ExitCode.FAILURES);
  });
}

const pct = (x: number): string => `${Math.round(x * 1000) / 10}%`;

export function reconcileLines(r: ReconcileReport): string[] {
  const lines = [
    `Reconcile ${r.reconcile_id} (${r.apply ? 'apply' : 'dry run'}) at ${time(r.checked_at)} against ${r.storage}; minimum age ${duration(r.min_age_seconds)}`,
    `Orphan files: ${count(r.files.orphans)} of ${plural(r.files.checked, 'file')} (${pct(r.files.share)}); ${count(r.files.skipped)} newer than the minimum age left alone`,
    ...r.files.samples.map((f) => `  ${f.file_key} (${f.size} bytes, modified ${time(f.modified_at)})`),
    `Orphan rows:  ${count(r.rows.orphans)} of ${plural(r.rows.checked, 'row')} (${pct(r.rows.share)}); ${count(r.rows.skipped)} with keys that cannot be checked left alone`,
    ...r.rows.samples.map((row) => `  row ${row.job_id}: ${row.file_key} (${row.purpose ?? '-'}, created ${time(row.created_at)})`),
  ];
  if (r.status === 'refused') lines.push(`REFUSED: ${r.refused_reason}`);
  else if (r.status === 'clean') lines.push('Clean: storage and the jobs table agree.');
  else if (r.status === 'dry_run') lines.push('Dry run: nothing changed. Re-run with --apply to delete these orphan files and rows (each recorded in lethe_ledger and audit_logs).');
  if (r.actions) {
    const a = r.actions;
    lines.push(`Applied: ${count(a.files_erased)} files erased, ${count(a.files_absent)} already gone, ${count(a.files_failed)} failed; ${count(a.rows_removed)} rows removed (ledger run_id ${r.reconcile_id})`);
    for (const f of a.failures) lines.push(`  failed: ${f.file_key}: ${f.code} ${f.message}`);
  }
  return lines;
}
