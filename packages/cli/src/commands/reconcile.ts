import type { Command } from 'commander';
import { ErrorCodes, type ErrorCode } from '@lethe/engine';
import { reconcile, reconcilePrefixProblem, type ReconcileReport } from '@lethe/engine/operations';
import { addActorOption, defaultActor } from '../actor.js';
import { durationMs, percentFraction } from '../durations.js';
import { ExitCode, printJson, printLines, UsageError } from '../output.js';
import type { CommandContext } from '../program.js';
import { codeMessage, count, duration, plural, time } from '../render/format.js';
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
    .description(
      'find orphan files (in storage, no row, no ledger entry) and orphan rows (row, no file), older than a minimum age (runbook FM-005). Dry run unless --apply. Exits 1 when orphans are found and not removed, when it refuses, or when an action failed',
    )
    .option('--apply', 'delete orphan files and rows, recording each in the ledger and audit_logs (takes the run lock; refused while paused)')
    .option('--min-age <duration>', 'files and rows newer than this are never touched (uploads in flight); 0 is allowed, with a warning', '24h')
    .option('--max-orphan-share <percent>', 'refuse to act when more than this share of files or rows look orphaned (a wrong prefix, an empty mount)', '5%')
    .option('--prefix <prefix>', 'only list storage under this directory, relative to the storage root (no "..", no absolute path)')
    .option('--json', 'print the report as JSON');
  addActorOption(command);
  addConnectionOptions(command, { storage: true, batches: true }).action(async (flags: ReconcileFlags) => {
    const minAgeMs = durationMs('--min-age', flags.minAge, { allowZero: true });
    if (minAgeMs === 0) {
      ctx.io.stderr.write(
        'lethe: warning: --min-age 0: a file uploaded a moment ago whose row is not committed yet counts as an orphan; --apply would delete uploads in flight. Use it only with uploads stopped.\n',
      );
    }
    const maxOrphanShare = percentFraction('--max-orphan-share', flags.maxOrphanShare);
    checkPrefixFlag(flags.prefix);
    const report = await withEngine(ctx, flags, (engine) =>
      reconcile(engine, {
        apply: flags.apply === true,
        by: flags.by ?? defaultActor(ctx.io.env),
        minAgeMs,
        maxOrphanShare,
        ...(flags.prefix === undefined ? {} : { prefix: flags.prefix }),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      }),
    );
    if (flags.json) printJson(ctx.io, report);
    else printLines(ctx.io, reconcileLines(report));
    const failed = report.actions !== null && report.actions.files_failed > 0;
    ctx.setExit(report.status === 'clean' || (report.status === 'applied' && !failed) ? ExitCode.OK : ExitCode.FAILURES);
  });
}

/** DESIGN invariant 4 before any connection: a prefix that could leave the storage root lists nothing. */
function checkPrefixFlag(prefix: string | undefined): void {
  if (prefix === undefined) return;
  const problem = prefix === '' ? { code: ErrorCodes.KEY_INVALID, message: 'must not be empty' } : reconcilePrefixProblem(prefix);
  if (problem !== null) throw new UsageError(`--prefix: ${problem.message}; nothing was listed`, problem.code as ErrorCode);
}

const pct = (x: number): string => `${Math.round(x * 1000) / 10}%`;

export function reconcileLines(r: ReconcileReport): string[] {
  const lines = [
    `Reconcile ${r.reconcile_id} (${r.apply ? 'apply' : 'dry run'}) at ${time(r.checked_at)} against ${r.storage}; minimum age ${duration(r.min_age_seconds)}`,
    `Orphan files: ${count(r.files.orphans)} of ${plural(r.files.looked_at, 'file')} looked at (${pct(r.files.share)}); ${count(r.files.skipped)} newer than the minimum age left alone`,
    ...r.files.samples.map((f) => `  ${f.file_key} (${f.size} bytes, modified ${time(f.modified_at)})`),
    `Orphan rows:  ${count(r.rows.orphans)} of ${plural(r.rows.looked_at, 'row')} looked at (${pct(r.rows.share)}); ${count(r.rows.looked_at - r.rows.checked - r.rows.skipped)} newer than the minimum age and ${count(r.rows.skipped)} with keys that cannot be checked left alone`,
    ...r.rows.samples.map((row) => `  row ${row.job_id}: ${row.file_key} (${row.purpose ?? '-'}, created ${time(row.created_at)})`),
  ];
  if (r.files.held > 0 || r.rows.held > 0) {
    lines.push(
      `Held (legal hold, never touched): ${plural(r.files.held, 'file')} with no row and no ledger entry, ${plural(r.rows.held, 'row')} whose file is missing; release with \`lethe unhold <file_key>\` first if they must go`,
    );
    lines.push(...r.files.held_samples.map((f) => `  held: ${f.file_key} (${f.size} bytes, modified ${time(f.modified_at)})`));
    lines.push(...r.rows.held_samples.map((row) => `  held: row ${row.job_id}: ${row.file_key} (${row.purpose ?? '-'}, created ${time(row.created_at)})`));
  }
  if (r.status === 'refused') lines.push(`REFUSED: ${r.refused_reason}`);
  else if (r.status === 'clean')
    lines.push(
      r.files.held + r.rows.held > 0
        ? 'Clean: storage and the jobs table agree, apart from the held files and rows above.'
        : 'Clean: storage and the jobs table agree.',
    );
  else if (r.status === 'dry_run')
    lines.push('Dry run: nothing changed. Re-run with --apply to delete these orphan files and rows (each recorded in lethe_ledger and audit_logs).');
  if (r.actions) {
    const a = r.actions;
    lines.push(
      `Applied: ${count(a.files_erased)} files erased, ${count(a.files_absent)} already gone, ${count(a.files_failed)} failed; ${count(a.rows_removed)} rows removed (ledger run_id ${r.reconcile_id})`,
    );
    if (a.files_held > 0 || a.rows_held > 0) lines.push(`Kept under a legal hold: ${count(a.files_held)} files, ${count(a.rows_held)} rows`);
    for (const f of a.failures) lines.push(`  failed: ${f.file_key}: ${codeMessage(f.code, f.message)}`);
  }
  return lines;
}
