import { once } from 'node:events';
import type { Command } from 'commander';
import { ERASURE_COLUMNS, erasureCsvLine, streamErasures, validateErasuresFilter, type ErasuresFilter } from '@lethe/engine/operations';
import { ExitCode, UsageError, type Io } from '../output.js';
import type { CommandContext } from '../program.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';

interface ErasuresFlags extends ConnectionFlags {
  readonly run?: string;
  readonly policyVersion?: string;
  readonly since?: string;
  readonly format?: string;
  readonly includeRow?: boolean;
}

/**
 * `lethe erasures` (runbook FM-003 "notify users if many affected", EMERGENCY-002): what
 * was erased, one line per removed `jobs` row, streamed from the ledger (a server-side cursor; the
 * output is written batch by batch, waiting for a slow reader) for a notification job.
 */
export function registerErasures(program: Command, ctx: CommandContext): void {
  const command = program
    .command('erasures')
    .summary('stream what was erased (file_key, job, purpose, when, run, policy version) as JSON lines or CSV (FM-003)')
    .description(
      'list erasures from the ledger, one line per jobs row a run removed (erased, already absent, or moved to the undo trash), oldest first, streamed: for notifying affected users (runbook FM-003, EMERGENCY-002). A count goes to stderr',
    )
    .option('--run <id>', 'only this run (its id, as in `lethe history`)')
    .option('--policy-version <n>', 'only erasures made under this policy version (e.g. the wrong one)')
    .option('--since <date>', 'only erasures at or after this date (2025-11-30) or instant (2025-11-30T02:00:00Z)')
    .option('--format <format>', 'output format: "jsonl" (one JSON object a line, the default) or "csv" (with a header)', 'jsonl')
    .option('--include-row', 'add the removed jobs row as the ledger kept it (job_row), for finding whom to notify');
  addConnectionOptions(command, { storage: false, batches: true }).action(async (flags: ErasuresFlags) => {
    if (flags.format !== 'jsonl' && flags.format !== 'csv') throw new UsageError(`--format: expected "jsonl" or "csv", got ${JSON.stringify(flags.format)}`);
    const filter = erasuresFilter(flags, ctx.signal);
    const total = await withEngine(ctx, flags, async (engine) => {
      let n = 0;
      if (flags.format === 'csv') await write(ctx.io, `${[...ERASURE_COLUMNS, ...(flags.includeRow ? ['job_row'] : [])].join(',')}\n`);
      for await (const batch of streamErasures(engine, filter)) {
        const lines = batch.map((e) => (flags.format === 'csv' ? erasureCsvLine(e, flags.includeRow === true) : JSON.stringify(e)));
        await write(ctx.io, `${lines.join('\n')}\n`);
        n += batch.length;
      }
      return n;
    });
    ctx.io.stderr.write(`lethe: ${total} erasure${total === 1 ? '' : 's'} listed\n`);
    ctx.setExit(ExitCode.OK);
  });
}

function erasuresFilter(flags: ErasuresFlags, signal: AbortSignal | undefined): ErasuresFilter {
  let policyVersion: number | undefined;
  if (flags.policyVersion !== undefined) {
    if (!/^\d{1,9}$/.test(flags.policyVersion.trim()) || Number(flags.policyVersion) < 1)
      throw new UsageError(`--policy-version: expected a positive integer like 2, got ${JSON.stringify(flags.policyVersion)}`);
    policyVersion = Number(flags.policyVersion);
  }
  const filter: ErasuresFilter = {
    ...(flags.run === undefined ? {} : { runId: flags.run.trim() }),
    ...(policyVersion === undefined ? {} : { policyVersion }),
    ...(flags.since === undefined ? {} : { since: flags.since }),
    ...(flags.includeRow ? { includeRow: true } : {}),
    ...(signal ? { signal } : {}),
  };
  try {
    validateErasuresFilter(filter);
  } catch (error) {
    // The engine names the field; the operator typed the flag.
    throw new UsageError(`--${(error as Error).message.replace(/^policy version:/, 'policy-version:')}`);
  }
  return filter;
}

/** Writes and waits for 'drain' when the reader is slower than the database. */
async function write(io: Io, chunk: string): Promise<void> {
  if (!io.stdout.write(chunk)) await once(io.stdout, 'drain');
}
