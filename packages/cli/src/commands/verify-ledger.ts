import type { Command } from 'commander';
import { verifyLedger, type LedgerVerifyReport } from '@lethe/engine/operations';
import { addActorOption, defaultActor } from '../actor.js';
import { ExitCode, printJson, printLines, UsageError } from '../output.js';
import type { CommandContext } from '../program.js';
import { plural, time } from '../render/format.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';
import { positiveInt } from './run.js';

export interface LedgerVerifyFlags extends ConnectionFlags {
  readonly sample?: string;
  readonly all?: boolean;
  readonly repair?: boolean;
  readonly by?: string;
}

/** `lethe verify-ledger` (and `lethe verify --ledger`): files the ledger records as gone but storage still has. */
export function registerVerifyLedger(program: Command, ctx: CommandContext): void {
  const command = program
    .command('verify-ledger')
    .summary('check that files the ledger records as erased are really gone')
    .description(
      'sample (or scan, --all) the ledger and stat each erased key in storage; reports any still there (a backup restore, a store that acknowledged a delete it did not do). --repair erases them again. Exits 1 when any is found and not repaired. Same as `lethe verify --ledger`',
    );
  addLedgerVerifyOptions(command);
  addConnectionOptions(command, { storage: true }).action((flags: LedgerVerifyFlags) => ledgerVerifyAction(ctx, flags));
}

export function addLedgerVerifyOptions(command: Command): Command {
  command
    .option('--sample <n>', 'ledger rows to sample (default 1000)')
    .option('--all', 'check every ledger row instead of a sample')
    .option(
      '--repair',
      'erase again what is found (ledger outcome reerased, audited); held files, and files modified after their erasure (newer_object), are never touched',
    );
  if (!command.options.some((o) => o.long === '--json')) command.option('--json', 'print the report as JSON');
  if (!command.options.some((o) => o.long === '--by')) addActorOption(command);
  return command;
}

export async function ledgerVerifyAction(ctx: CommandContext, flags: LedgerVerifyFlags): Promise<void> {
  if (flags.all && flags.sample !== undefined) throw new UsageError('--sample: give --sample N or --all, not both');
  const sample = flags.sample === undefined ? undefined : positiveInt('--sample', flags.sample);
  const by = flags.by ?? defaultActor(ctx.io.env);
  const report = await withEngine(ctx, flags, (engine) =>
    verifyLedger(engine, {
      all: flags.all === true,
      repair: flags.repair === true,
      by,
      ...(sample === undefined ? {} : { sample }),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    }),
  );
  if (flags.json) printJson(ctx.io, report);
  else printLines(ctx.io, ledgerVerifyLines(report));
  ctx.setExit(report.unresolved > 0 ? ExitCode.FAILURES : ExitCode.OK);
}

export function ledgerVerifyLines(r: LedgerVerifyReport): string[] {
  const how =
    r.mode === 'storage_scan'
      ? `${plural(r.rows_checked, 'object')} listed in ${r.storage} (keys are HMACs: storage is scanned and matched to the ledger)`
      : `${plural(r.rows_checked, 'ledger row')} (${r.mode}), ${plural(r.keys_checked, 'key')} checked in ${r.storage}`;
  const lines = [`Checked ${how}`];
  if (r.present === 0) lines.push('Nothing recorded as erased is still in storage.');
  else {
    const apart = [...(r.held > 0 ? [`${r.held} held`] : []), ...(r.newer_objects > 0 ? [`${r.newer_objects} newer than the erasure`] : [])];
    lines.push(`${plural(r.present, 'file')} recorded as erased still in storage${apart.length > 0 ? ` (${apart.join(', ')}: never repaired)` : ''}:`);
    for (const f of r.findings.slice(0, 20)) {
      const repair = f.repair ? ` -> ${f.repair}${f.repair_error ? ` (${f.repair_error})` : ''}` : '';
      const kind = f.kind === 'newer_object' ? ' NEWER OBJECT:' : '';
      lines.push(`  ${f.file_key}${kind} (${f.size} bytes, modified ${time(f.modified_at)}; ${f.outcome} at ${time(f.erased_at)} by run ${f.run_id})${repair}`);
    }
    if (r.findings.length > 20) lines.push(`  ... ${r.findings.length - 20} more (--json)`);
  }
  if (r.rightly_present > 0) lines.push(`${plural(r.rightly_present, 'file')} back rightly (a jobs row refers to the key again, or it was restored).`);
  if (r.unverifiable > 0) lines.push(`${plural(r.unverifiable, 'key')} could not be checked (unsafe key or storage error).`);
  if (r.repair_failed > 0) lines.push(`${plural(r.repair_failed, 'repair')} failed.`);
  lines.push(...derivedLines(r));
  if (r.newer_objects > 0) lines.push(newerObjectAdvice(r.newer_objects));
  const repairable = r.findings.some((f) => f.kind === 'present' && !f.held && f.repair === undefined);
  lines.push(
    r.unresolved > 0
      ? `FAIL: ${plural(r.unresolved, 'file')} recorded as erased still exist${r.repaired > 0 ? ` after repairing ${r.repaired}` : ''}${repairable ? '; run with --repair to erase again the ones that are the erased file' : ''}.`
      : r.repaired > 0
        ? `OK: ${plural(r.repaired, 'file')} erased again (ledger outcome reerased).`
        : 'OK',
  );
  return lines;
}

/** Derived objects and child rows (docs/rights.md#derived-data): checked with the ledger, never repaired here. */
function derivedLines(r: LedgerVerifyReport): string[] {
  const d = r.derived;
  if (d.objects_checked + d.row_sets_checked === 0) return [];
  const lines = [`Derived data: ${plural(d.objects_checked, 'object')} and ${plural(d.row_sets_checked, 'child-row set')} recorded gone, checked.`];
  for (const f of d.findings.slice(0, 20)) {
    lines.push(
      f.kind === 'rows'
        ? `  job ${f.job_id}: ${plural(f.rows ?? 0, 'row')} still in ${f.declaration}`
        : `  job ${f.job_id}: ${f.key}${f.finding === 'newer_object' ? ' NEWER OBJECT (not failed)' : ''} still in ${f.storage} (${f.declaration})`,
    );
  }
  if (d.unverifiable > 0)
    lines.push(`  ${plural(d.unverifiable, 'derived record')} could not be checked (HMAC keys, an undeclared store or table, or a storage error).`);
  return lines;
}

/** What an operator does about a file written at a key after Lethe erased it (never repaired). */
function newerObjectAdvice(n: number): string {
  return (
    `NEWER OBJECT: ${plural(n, 'file')} at a key Lethe erased ${n === 1 ? 'was' : 'were'} modified after the erasure began: not the erased file, so --repair never deletes ${n === 1 ? 'it' : 'them'}. ` +
    'Likely a new upload whose jobs row is not in yet, or a copy that did not keep its modification time. ' +
    'Find out who wrote it: if it belongs, give it its jobs row (retention then applies); if it must go, delete it by hand and record why.'
  );
}
