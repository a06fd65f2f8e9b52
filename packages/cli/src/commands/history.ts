import type { Command } from 'commander';
import { listRuns, runStatusLabel, type RunRecord } from '@lethe/engine/operations';
import { ExitCode, printJson, printLines, UsageError } from '../output.js';
import type { CommandContext } from '../program.js';
import { count, duration, table, time } from '../render/format.js';
import { runJson } from '../render/records.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';
import { positiveInt } from './run.js';

interface HistoryFlags extends ConnectionFlags {
  readonly number: string;
  readonly all?: boolean;
}

/** Runbook OP-004: the last runs, newest first, from Lethe's runs table. */
export function registerHistory(program: Command, ctx: CommandContext): void {
  const command = program
    .command('history')
    .summary('the last runs (OP-004)')
    .description('the last runs, newest first: time, trigger, deleted, failed, duration, status (runbook OP-004)')
    .option('-n, --number <n>', 'how many runs (1-1000)', '10')
    .option('--all', 'include dry runs')
    .option('--json', 'print the runs as JSON');
  addConnectionOptions(command, { storage: false }).action(async (flags: HistoryFlags) => {
    const limit = positiveInt('--number', flags.number);
    if (limit > 1000) throw new UsageError(`--number: expected an integer from 1 to 1000, got ${JSON.stringify(flags.number)}`);
    const runs = await withEngine(ctx, flags, (engine) => listRuns(engine.pool, { limit, includeDryRuns: flags.all === true }));
    if (flags.json) printJson(ctx.io, { runs: runs.map(runJson) });
    else if (runs.length === 0) printLines(ctx.io, ['No runs yet. Start one with `lethe run` (or `lethe run --dry-run` to see what it would delete).']);
    else {
      printLines(
        ctx.io,
        table(
          ['time', 'trigger', 'deleted', 'failed', 'duration', 'status', 'run id'],
          runs.map((r) => [
            time(r.startedAt),
            r.dryRun ? `${r.trigger} (dry run)` : r.trigger,
            deletedCell(r),
            r.failed === null ? '-' : count(r.failed),
            duration(r.durationSeconds),
            runStatusLabel(r),
            r.id,
          ]),
        ),
      );
    }
    ctx.setExit(ExitCode.OK);
  });
}

/** A dry run deletes nothing: it shows what it would delete, never a misleading `0`. */
function deletedCell(r: RunRecord): string {
  if (r.dryRun) return r.wouldDelete === null ? '-' : `would ${count(r.wouldDelete)}`;
  return r.deleted === null ? '-' : count(r.deleted);
}
