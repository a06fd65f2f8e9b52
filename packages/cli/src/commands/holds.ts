import type { Command } from 'commander';
import { inspectJobsTable, ledgerKeyFor, listHolds, placeHold, releaseHolds, type Engine, type Hold } from '@lethe/engine';
import { lookupFileKey } from '@lethe/engine/operations';
import { addActorOption, defaultActor } from '../actor.js';
import { ExitCode, printJson, printLines, UsageError } from '../output.js';
import type { CommandContext } from '../program.js';
import { table, time } from '../render/format.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';

interface HoldFlags extends ConnectionFlags {
  readonly job?: string;
  readonly reason: string;
  readonly until?: string;
  readonly by?: string;
}

/** Legal holds (docs/safety.md#legal-holds): held files are never erased or purged. `hold`, `unhold`, `holds`. */
export function registerHolds(program: Command, ctx: CommandContext): void {
  const hold = program
    .command('hold')
    .summary('place a legal hold on a file (never erased or purged while held)')
    .description(
      'place a legal hold on a file key, or on the file of a job row (--job): runs keep it and its rows, purges keep its trash copy, until `lethe unhold` or --until',
    )
    .argument('[file_key]', 'the file key to hold (or use --job)')
    .option('--job <id>', 'hold the file of this jobs row instead of naming the key')
    .requiredOption('--reason <text>', 'why (required; recorded with the hold and in audit_logs)')
    .option('--until <date>', 'the hold lapses after this date (YYYY-MM-DD, or an ISO time)')
    .option('--json', 'print the hold as JSON');
  addActorOption(hold);
  addConnectionOptions(hold, { storage: false }).action(async (fileKey: string | undefined, flags: HoldFlags) => {
    if ((fileKey === undefined) === (flags.job === undefined)) throw new UsageError('file_key: give either a file key or --job <id>, not both and not neither');
    if (fileKey !== undefined && fileKey.trim() === '') throw new UsageError('file_key: expected a non-empty file key');
    if (flags.reason.trim() === '') throw new UsageError('--reason: a hold needs a non-empty reason');
    const until = flags.until === undefined ? undefined : parseUntil(flags.until);
    const by = flags.by ?? defaultActor(ctx.io.env);
    const placed = await withEngine(ctx, flags, async (engine) => {
      const t = await inspectJobsTable(engine.pool, engine.options.jobs);
      return placeHold(engine.pool, t, {
        target: flags.job !== undefined ? { jobId: flags.job } : { fileKey: fileKey! },
        reason: flags.reason,
        by,
        ...(until ? { until } : {}),
        ledgerKey: (k) => ledgerKeyFor(engine.options, k),
      });
    });
    for (const w of placed.warnings) ctx.io.stderr.write(`lethe: warning: ${w}\n`);
    if (flags.json) printJson(ctx.io, placed);
    else
      printLines(ctx.io, [
        `HELD ${placed.fileKey}${placed.jobId ? ` (job ${placed.jobId})` : ''}: ${placed.reason}; ${placed.until ? `until ${time(placed.until)}` : 'until released'} (hold ${placed.id}, by ${placed.createdBy})`,
      ]);
    ctx.setExit(ExitCode.OK);
  });

  const unhold = program
    .command('unhold')
    .summary('release the legal holds on a file')
    .description('release every active legal hold on a file key (audited); exits 1 when it had none')
    .argument('<file_key>', 'the held file key')
    .option('--reason <text>', 'why the hold ends (recorded in the cleanup_hold_released audit row), e.g. "INC-4711 closed"')
    .option('--json', 'print the result as JSON');
  addActorOption(unhold);
  addConnectionOptions(unhold, { storage: false }).action(async (fileKey: string, flags: ConnectionFlags & { by?: string; reason?: string }) => {
    if (fileKey.trim() === '') throw new UsageError('file_key: expected a non-empty file key');
    if (flags.reason !== undefined && flags.reason.trim() === '') throw new UsageError('--reason: expected a non-empty reason');
    const by = flags.by ?? defaultActor(ctx.io.env);
    const { released, expired } = await withEngine(ctx, flags, async (engine) => {
      const n = await releaseHolds(engine.pool, { fileKey }, by, flags.reason);
      return { released: n, expired: n > 0 ? await expiredRows(engine, fileKey) : null };
    });
    const warning = expired && releasedWarning(fileKey, expired);
    if (warning) ctx.io.stderr.write(`lethe: warning: ${warning}\n`);
    if (flags.json)
      printJson(ctx.io, {
        file_key: fileKey,
        released,
        ...(flags.reason === undefined ? {} : { reason: flags.reason.trim() }),
        ...(expired ? { expired_rows: expired.expired, live_rows: expired.live } : {}),
      });
    else printLines(ctx.io, [released > 0 ? `RELEASED ${released} hold${released === 1 ? '' : 's'} on ${fileKey}` : `${fileKey}: no active hold`]);
    ctx.setExit(released > 0 ? ExitCode.OK : ExitCode.FAILURES);
  });

  const holds = program
    .command('holds')
    .summary('list legal holds')
    .description('list the active legal holds (--all: released and lapsed ones too)')
    .option('--all', 'include released and lapsed holds')
    .option('--key <file_key>', 'only the holds on this key')
    .option('--json', 'print the holds as JSON');
  addConnectionOptions(holds, { storage: false }).action(async (flags: ConnectionFlags & { all?: boolean; key?: string }) => {
    const list = await withEngine(ctx, flags, (engine) =>
      listHolds(engine.pool, { activeOnly: flags.all !== true, ...(flags.key ? { fileKey: flags.key } : {}) }),
    );
    if (flags.json) printJson(ctx.io, list);
    else printLines(ctx.io, holdLines(list, flags.all === true));
    ctx.setExit(ExitCode.OK);
  });
}

interface RowsAtKey {
  readonly expired: number;
  /** Rows not expired, or not judged by any policy: either keeps the file. */
  readonly live: number;
}

/** Rows at the key under the current policy, right after the release (lookup's judgement). */
async function expiredRows(engine: Engine, fileKey: string): Promise<RowsAtKey> {
  const { rows } = await lookupFileKey(engine, fileKey);
  const expired = rows.filter((r) => r.expired).length;
  return { expired, live: rows.length - expired };
}

/** Released rows that are already expired go at the next run: say so while it can still be undone. */
export function releasedWarning(fileKey: string, r: RowsAtKey): string | null {
  if (r.expired === 0) return null;
  const rows = `${r.expired} of its rows ${r.expired === 1 ? 'is' : 'are'} expired`;
  const hold = `(\`lethe hold ${/^[\w./@:-]+$/.test(fileKey) ? fileKey : JSON.stringify(fileKey)} --reason ...\` to keep it)`;
  return r.live === 0
    ? `${fileKey} is no longer held and ${rows}: the next run will erase the file ${hold}`
    : `${fileKey} is no longer held and ${rows}: the next run removes ${r.expired === 1 ? 'it' : 'them'}; the file stays while ${r.live} live row${r.live === 1 ? '' : 's'} share${r.live === 1 ? 's' : ''} it ${hold}`;
}

/** `YYYY-MM-DD` or an ISO time; a calendar date must exist (2027-02-30 is refused, not rolled over). */
export function parseUntil(value: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/.exec(value.trim());
  const ms = m ? Date.parse(value.trim()) : NaN;
  const d = new Date(Date.UTC(Number(m?.[1]), Number(m?.[2]) - 1, Number(m?.[3])));
  if (!m || Number.isNaN(ms) || d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) {
    throw new UsageError(`--until: expected a date like 2027-01-31 (or an ISO time), got ${JSON.stringify(value)}`);
  }
  if (ms <= Date.now()) throw new UsageError(`--until: must be in the future, got ${JSON.stringify(value)}`);
  return new Date(ms).toISOString();
}

function holdLines(list: readonly Hold[], all: boolean): string[] {
  if (list.length === 0) return [all ? 'No legal holds.' : 'No active legal holds.'];
  return table(
    ['HOLD', 'FILE_KEY', 'JOB', 'UNTIL', 'BY', 'SINCE', ...(all ? ['RELEASED'] : []), 'REASON'],
    list.map((h) => [
      h.id,
      h.fileKey,
      h.jobId ?? '-',
      h.until ? time(h.until) : '-',
      h.createdBy,
      time(h.createdAt),
      ...(all ? [h.releasedAt ? time(h.releasedAt) : '-'] : []),
      h.reason,
    ]),
  );
}
