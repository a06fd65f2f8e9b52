import type { Command } from 'commander';
import { getRun, runStatusLabel, type RunDetail } from '@lethe/engine/operations';
import { ExitCode, printJson, printLines, UsageError } from '../output.js';
import type { CommandContext } from '../program.js';
import { codeMessage, count, duration, inPurposeOrder, time } from '../render/format.js';
import { runJson } from '../render/records.js';
import { MIN_PREFIX_DIGITS, parseRunId, resolveRunId } from '../run-id.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';

/** Runbook FM-002 diagnosis: one run, its failures grouped by error code with sample keys. */
export function registerRuns(program: Command, ctx: CommandContext): void {
  const runs = program.command('runs').summary('inspect one run: failures by code (FM-002)').description('inspect runs (see also `lethe history`)');
  const show = runs
    .command('show')
    .description('one run: counts by purpose, and failures grouped by error code with sample keys (runbook FM-002)')
    .argument(
      '<run-id>',
      `the run id as \`lethe history\` shows it, or a unique prefix of it (at least ${MIN_PREFIX_DIGITS} hex digits, e.g. 3f2b9c1e); an ambiguous prefix exits 2 naming the runs`,
    )
    .option('--json', 'print the run as JSON');
  addConnectionOptions(show, { storage: false }).action(async (typed: string, flags: ConnectionFlags) => {
    const parsed = parseRunId(typed);
    const detail = await withEngine(ctx, flags, async (engine) => {
      const id = await resolveRunId(engine.pool, parsed);
      const found = await getRun(engine.pool, id);
      if (!found) throw new UsageError(`run-id: no run with id ${id} in this database (see \`lethe history --all\`)`);
      return found;
    });
    if (flags.json) {
      printJson(ctx.io, {
        run: runJson(detail.run),
        summary: detail.summary,
        failures_by_code: detail.failuresByCode.map((g) => ({ outcome: g.outcome, code: g.code, count: g.count, sample_keys: g.sampleKeys })),
      });
    } else printLines(ctx.io, runDetailLines(detail));
    ctx.setExit(ExitCode.OK);
  });
}

export function runDetailLines({ run, summary, failuresByCode }: RunDetail): string[] {
  const lines = [
    `Run ${run.id}: ${runStatusLabel(run)}${run.dryRun ? ' (dry run)' : ''}, trigger ${run.trigger}, host ${run.host ?? '-'}`,
    `Started ${time(run.startedAt)}, ended ${time(run.endedAt)}, took ${duration(run.durationSeconds)}; cutoff ${time(run.cutoff)}, policy version ${run.policyVersion ?? '-'}`,
    `${run.dryRun ? `Would delete: ${run.wouldDelete === null ? '-' : count(run.wouldDelete)}` : `Deleted: ${run.deleted === null ? '-' : count(run.deleted)}`}, Failed: ${run.failed === null ? '-' : count(run.failed)}${summary ? `, Refused: ${count(summary.refused_count)}, Kept (shared): ${count(summary.shared_count)}` : ''}`,
  ];
  for (const [purpose, c] of inPurposeOrder(summary?.by_purpose ?? {})) {
    lines.push(
      `  ${purpose}: ${count(c.erased)} erased, ${count(c.absent)} already absent, ${count(c.failed)} failed, ${count(c.refused)} refused, ${count(c.shared)} shared`,
    );
  }
  if (run.error) lines.push(`Error: ${run.error}`);
  if (failuresByCode.length === 0) lines.push('No failures or refusals recorded in the ledger for this run.');
  else {
    lines.push('Failures by code:');
    for (const g of failuresByCode) lines.push(`  ${g.code} (${g.outcome}): ${count(g.count)}, e.g. ${g.sampleKeys.map((k) => JSON.stringify(k)).join(', ')}`);
  }
  return lines;
}
