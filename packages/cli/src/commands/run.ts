import type { Command } from 'commander';
import { createEngine, type Engine, type RunProgress, type RunSummary } from '@lethe/engine';
import type { RunPreview } from '@lethe/engine/operations';
import { engineOptions } from '../config.js';
import { ExitCode, printJson, printLines, UsageError, type Io } from '../output.js';
import type { CommandContext } from '../program.js';
import { createPalette, type Palette } from '../render/colour.js';
import { atLeast, codeMessage, count, duration, inPurposeOrder, plural } from '../render/format.js';
import { CONNECTION_FLAG_HELP } from '../session.js';

interface RunFlags {
  dryRun?: boolean;
  json?: boolean;
  limit?: string;
  purpose?: string[];
  storage?: string;
  databaseUrl?: string;
  batchSize?: string;
  deletesPerSecond?: string;
  threads?: string;
  wait?: string;
  backlog?: boolean;
  allowLarge?: boolean;
  allowMissing?: boolean;
  group?: string;
  shard?: string;
}

export function registerRun(program: Command, ctx: CommandContext): void {
  program
    .command('run')
    .description('delete expired files and their rows now (runbook OP-001), then print the summary')
    .option('--dry-run', 'delete nothing; report what would go, by purpose')
    .option('--json', 'print only the JSON summary on stdout')
    .option('--limit <n>', 'stop after this many expired rows')
    .option(
      '--backlog',
      'a large catch-up: no limit, the expired rows counted first so progress shows done/total and an ETA; resumable (every batch is committed: if stopped, run it again)',
    )
    .option('--purpose <name...>', 'only these purposes (repeatable)')
    .option('--storage <url>', CONNECTION_FLAG_HELP.storage)
    .option('--database-url <url>', CONNECTION_FLAG_HELP.databaseUrl)
    .option('--batch-size <n>', CONNECTION_FLAG_HELP.batchSize)
    .option('--deletes-per-second <n>', CONNECTION_FLAG_HELP.deletesPerSecond)
    .option('--threads <n>', CONNECTION_FLAG_HELP.threads)
    .option('--wait <seconds>', 'wait this long for a run in progress to end instead of refusing at once')
    .option(
      '--allow-large',
      'proceed past the blast-radius guard (after checking `lethe plan`); a --backlog run the guard would refuse exits 2 without it, and without pausing the schedule',
    )
    .option('--allow-missing', 'record files that storage does not hold as already absent instead of stopping the run (after checking the mount or prefix)')
    .option(
      '--group <id>',
      'scale-out: be one worker of the logical run <id> (same id on every worker, e.g. the Job name; env LETHE_RUN_GROUP); workers share the backlog through row locks',
    )
    .option('--shard <i/N>', 'with --group: only this hash shard of the rows (e.g. a Kubernetes Indexed Job: $JOB_COMPLETION_INDEX/N)')
    .action(async (flags: RunFlags) => {
      const limit = flags.limit === undefined ? undefined : positiveInt('--limit', flags.limit);
      if (flags.backlog && limit !== undefined)
        throw new UsageError('--backlog: a backlog run has no limit; drop --limit (or drop --backlog for a limited run)');
      const wait = flags.wait === undefined ? undefined : positiveInt('--wait', flags.wait, 0);
      const group = flags.group ?? (ctx.io.env.LETHE_RUN_GROUP || undefined);
      const shard = flags.shard === undefined ? undefined : parseShard(flags.shard);
      const config = ctx.config({
        storage: flags.storage,
        databaseUrl: flags.databaseUrl,
        batchSize: flags.batchSize,
        deletesPerSecond: flags.deletesPerSecond,
        threads: flags.threads,
      });
      const logger = ctx.logger(config);
      const engine = createEngine(engineOptions(config, { logger }));
      const progress = progressPrinter(ctx.io, flags.json === true, ctx.paint);
      try {
        const dryRun = flags.dryRun === true;
        const preview =
          dryRun || (flags.backlog && group === undefined)
            ? await previewOf(engine, { ...(flags.purpose ? { purposes: flags.purpose } : {}), ...(limit === undefined ? {} : { limit }) })
            : null;
        if (preview && !dryRun) {
          announceBacklog(ctx.io, engine, preview);
          if (preview.wouldBeRefused && !flags.allowLarge) {
            refuseBacklog(ctx.io, preview, flags.json === true);
            ctx.setExit(ExitCode.USAGE);
            return;
          }
        }
        if (preview && dryRun && preview.wouldBeRefused) {
          ctx.io.stderr.write(
            `lethe: warning: a real run now would be refused by the blast-radius guard (${preview.blastRadius?.reason ?? 'over the threshold'}) and would pause Lethe; after checking \`lethe plan\`, use \`lethe run --allow-large\` (or \`lethe run --backlog --allow-large\`)\n`,
          );
        }
        const summary = await engine.run({
          dryRun,
          trigger: group !== undefined ? 'worker' : flags.backlog ? 'backlog' : 'manual',
          // Count first, so progress has a total, a percentage and an ETA on every run.
          estimateTotal: true,
          // An operator's catch-up: a refusal by the guard must not pause the scheduled runs.
          ...(flags.backlog ? { pauseOnRefusal: false } : {}),
          onProgress: progress,
          ...(limit === undefined ? {} : { limit }),
          ...(flags.purpose ? { purposes: flags.purpose } : {}),
          ...(wait === undefined ? {} : { lockWaitMs: wait * 1000 }),
          ...(flags.allowLarge ? { allowLarge: true } : {}),
          ...(flags.allowMissing ? { allowMissing: true } : {}),
          ...(group === undefined ? {} : { group }),
          ...(shard === undefined ? {} : { shard }),
          ...(ctx.signal ? { signal: ctx.signal } : {}),
        });
        progress.done();
        if (flags.json) printJson(ctx.io, dryRun ? { ...summary, blast_radius_warning: preview?.wouldBeRefused ? preview.blastRadius : null } : summary);
        else
          printLines(ctx.io, [
            ...humanSummary(summary, ctx.paint),
            ...(flags.backlog && summary.status !== 'completed'
              ? ['Backlog not finished: every batch so far is committed; run `lethe run --backlog` again to continue.']
              : []),
          ]);
        ctx.setExit(summary.status === 'completed' && summary.failed_count === 0 ? ExitCode.OK : ExitCode.FAILURES);
      } finally {
        progress.done();
        await engine.close();
      }
    });
}

/** A backlog run says up front what it will do: how many rows, and how long at the rate ceiling. */
/** The operations entry (~50 ms to import) is loaded only for a dry run or a backlog run (docs/performance.md#start-up). */
async function previewOf(engine: Engine, options: { readonly purposes?: readonly string[]; readonly limit?: number }): Promise<RunPreview> {
  const { previewRun } = await import('@lethe/engine/operations');
  return previewRun(engine, options);
}

function announceBacklog(io: Io, engine: Engine, p: RunPreview): void {
  const rate = engine.options.deletesPerSecond;
  const perPrefix = engine.options.deletesPerSecondPerPrefix;
  const eta =
    rate > 0
      ? `; at most ${rate}/s, so at least ${Math.ceil(p.expired / rate)}s`
      : perPrefix > 0
        ? `; at most ${perPrefix}/s per key prefix, the ETA follows in the progress lines`
        : '; no rate ceiling, the ETA follows in the progress lines';
  io.stderr.write(`Backlog: ${plural(p.expired, 'expired row')} to erase (cutoff ${p.cutoff})${eta}\n`);
}

/**
 * The guard would refuse this backlog: an operator's explicit catch-up is refused before it
 * starts, and Lethe is NOT paused (the scheduled runs carry on); --allow-large is the answer.
 */
function refuseBacklog(io: Io, p: RunPreview, json: boolean): void {
  const message = `blast-radius guard: ${p.blastRadius?.reason ?? 'over the threshold'}; nothing was deleted and Lethe was not paused (scheduled runs carry on). After checking \`lethe plan\`, rerun with \`lethe run --backlog --allow-large\``;
  io.stderr.write(`lethe: ${message}\n`);
  if (json) printJson(io, { error: { code: 'LETHE_E_BLAST_RADIUS', message }, blast_radius: p.blastRadius, expired: p.expired });
}

/** `i/N`, e.g. `2/8`. */
function parseShard(value: string): { index: number; count: number } {
  const m = /^(\d{1,4})\/(\d{1,4})$/.exec(value);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) throw new UsageError(`--shard: expected i/N with 0 <= i < N (e.g. 0/3), got ${JSON.stringify(value)}`);
  return { index, count };
}

export function positiveInt(flag: string, value: string, min = 1): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) throw new UsageError(`${flag}: expected an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

/**
 * A live line on a terminal (stderr), JSON progress lines when stderr is not a terminal. Every
 * real run counts its expired rows first (estimateTotal), so the line has done/total, a
 * percentage and an ETA at the current rate; a scale-out worker's share is not counted (no total).
 */
function progressPrinter(io: Io, json: boolean, paint: Palette): ((p: RunProgress) => void) & { done(): void } {
  let shown = false;
  const fn = (p: RunProgress): void => {
    const seconds = p.elapsedMs / 1000;
    const rate = seconds > 0 ? p.processed / seconds : 0;
    const eta = etaSeconds(p, rate);
    const percent = percentDone(p);
    if (io.stderr.isTTY && !json) {
      const done = p.total !== null ? `${count(p.processed)}/${count(p.total)} (${percent}%)` : count(p.processed);
      const failed = p.failed > 0 ? paint.bad(`${count(p.failed)} failed`) : '0 failed';
      io.stderr.write(
        `\r${done} processed, ${count(p.deleted)} deleted, ${failed}, ${count(Math.round(rate))}/s${eta === null ? '' : `, eta ${duration(eta)}`}   `,
      );
      shown = true;
    } else {
      io.stderr.write(
        `${JSON.stringify({ msg: 'progress', runId: p.runId, processed: p.processed, deleted: p.deleted, failed: p.failed, total: p.total, percent, ratePerSecond: Math.round(rate), etaSeconds: eta, elapsedSeconds: seconds })}\n`,
      );
    }
  };
  return Object.assign(fn, {
    done: () => {
      if (shown) io.stderr.write('\n');
      shown = false;
    },
  });
}

/** Share of the counted total done, one decimal (null without a total); never above 100. */
export function percentDone(p: Pick<RunProgress, 'processed' | 'total'>): number | null {
  if (p.total === null) return null;
  if (p.total <= 0) return 100;
  return Math.min(100, Math.floor((p.processed / p.total) * 1000) / 10);
}

/** Seconds left at the current rate, when the run has a total. */
export function etaSeconds(p: Pick<RunProgress, 'processed' | 'total'>, ratePerSecond: number): number | null {
  return p.total !== null && ratePerSecond > 0 ? Math.max(0, Math.round((p.total - p.processed) / ratePerSecond)) : null;
}

/** Kept files: the count, and the first keys (the summary's own list is capped too). */
const KEPT_SHOWN = 5;
function keptLines(label: string, rows: number, keys: readonly string[], why: string): string[] {
  if (rows === 0) return [];
  const shown = keys.slice(0, KEPT_SHOWN).map((k) => JSON.stringify(k));
  const more = keys.length > KEPT_SHOWN ? ` (+${count(keys.length - KEPT_SHOWN)} more listed in --json)` : '';
  return [`${label}: ${plural(rows, 'row')} ${why}${shown.length ? `; files ${shown.join(', ')}${more}` : ''}`];
}

export function humanSummary(s: RunSummary, paint: Palette = createPalette(false)): string[] {
  const lines = [
    `Run ${s.run_id} ${s.degraded ? paint.warn(s.status) : paint.state(s.status)}${s.dry_run ? ' (dry run: nothing deleted)' : ''} in ${s.duration_seconds}s; cutoff ${s.cutoff}, policy version ${s.policy_version}`,
    s.dry_run
      ? `Would delete: ${count(s.would_delete_count)}`
      : `Deleted: ${count(s.deleted_count)}, ${s.failed_count > 0 ? paint.bad(`Failed: ${count(s.failed_count)}`) : `Failed: ${count(s.failed_count)}`}`,
  ];
  for (const [purpose, c] of inPurposeOrder(s.by_purpose)) {
    const parts = s.dry_run
      ? [`${count(c.selected)} expired`]
      : [`${count(c.erased)} erased`, ...(c.absent ? [`${count(c.absent)} already absent`] : []), ...(c.failed ? [`${count(c.failed)} failed`] : [])];
    if (c.refused) parts.push(`${count(c.refused)} refused`);
    if (c.shared) parts.push(`${count(c.shared)} kept (file shared with a live row)`);
    lines.push(`  ${purpose} (${s.policies[purpose] ?? '?'}): ${parts.join(', ')}`);
  }
  lines.push(...keptLines('Held', s.held_count, s.held_files ?? [], 'kept under a legal hold (`lethe holds`)'));
  lines.push(...keptLines('Shared', s.shared_count, s.shared_files ?? [], 'kept: the file is shared with a live row'));
  for (const e of s.errors.slice(0, 5)) lines.push(`  ${paint.bad('failed')}: ${e.file_key}: ${codeMessage(e.code, e.message)}`);
  for (const e of s.refused.slice(0, 5)) lines.push(`  refused: ${JSON.stringify(e.file_key)} (job ${e.job_id}): ${codeMessage(e.code, e.message)}`);
  for (const u of s.unreadable) {
    lines.push(
      `  not judged: ${atLeast(u.count, u.capped, 'row')} with ${u.reason === 'unknown_purpose' ? `unknown purpose ${JSON.stringify(u.purpose)}` : `purpose ${JSON.stringify(u.purpose)} and ${u.reason === 'infinite_created_at' ? 'an infinite' : 'no'} created_at`} (e.g. ids ${u.sample_ids.join(', ')})`,
    );
  }
  if (s.error) lines.push(`${paint.bad('error')}: ${s.error.message.startsWith(`${s.error.code}:`) ? s.error.message : `${s.error.code}: ${s.error.message}`}`);
  return lines;
}
