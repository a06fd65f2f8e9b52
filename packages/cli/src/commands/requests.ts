import type { Command } from 'commander';
import {
  acknowledgeNotice,
  completionRecord,
  listErasureRequests,
  listUnacknowledgedNotices,
  previewErasureRequest,
  requireErasureRequest,
  runErasureRequest,
  submitErasureRequest,
  type CompletionRecord,
  type ErasureRequest,
  type ErasureTarget,
  type RequestPreview,
  type RequestReason,
} from '@lethe/engine';
import { addActorOption, defaultActor } from '../actor.js';
import { ExitCode, printJson, printLines, UsageError } from '../output.js';
import type { CommandContext } from '../program.js';
import { count, duration, table, time } from '../render/format.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';

interface EraseFlags extends ConnectionFlags {
  readonly job?: string[];
  readonly key?: string[];
  readonly principal?: string[];
  readonly ref: string;
  readonly requestedBy?: string;
  readonly why?: string;
  readonly due?: string;
  readonly note?: string;
  readonly dryRun?: boolean;
  readonly nextRun?: boolean;
  readonly now?: boolean;
  readonly by?: string;
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** Erasure on request (docs/rights.md): `lethe erase`, `lethe requests`. */
export function registerRequests(program: Command, ctx: CommandContext): void {
  const erase = program
    .command('erase')
    .summary("erase a data principal's data on request (DPDP s.12(3), consent withdrawn)")
    .description(
      'store an erasure request (idempotent by --ref) and run it through the engine at once, or leave it to the next run (--next-run, or erasureMode next-run). Named rows go whatever their age, except rows whose purpose declares a retention duty (refused, with the statute) and files under a legal hold. See docs/rights.md and runbook REQ-001',
    )
    .option('--job <id>', 'a jobs row id (repeatable)', collect)
    .option('--key <file_key>', 'a file key (repeatable)', collect)
    .option('--principal <id>', 'a data-principal identifier, matched against erasurePrincipalColumn (repeatable)', collect)
    .requiredOption('--ref <ticket>', 'the request reference (the ticket id); the same reference never makes a second request')
    .option('--requested-by <who>', 'who asked: the data principal or their nominee, as the ticket names them (required unless --dry-run)')
    .option('--why <reason>', 'request | consent-withdrawn (required unless --dry-run)')
    .option('--due <date>', 'the deadline (YYYY-MM-DD or an ISO time; default: received + erasureDeadlineDays)')
    .option('--note <text>', 'a note stored with the request')
    .option('--dry-run', 'show exactly what the request would erase and refuse; store and change nothing')
    .option('--next-run', 'store the request only; the next run takes it')
    .option('--now', 'run the request at once even when erasureMode is next-run')
    .option('--json', 'print the result as JSON');
  addActorOption(erase);
  addConnectionOptions(erase, { storage: true, batches: true }).action(async (flags: EraseFlags) => {
    const target = eraseTarget(flags);
    if (flags.dryRun) {
      const preview = await withEngine(ctx, flags, (engine) => previewErasureRequest(engine, { reference: flags.ref, target }));
      if (flags.json) printJson(ctx.io, preview);
      else printLines(ctx.io, previewLines(preview));
      ctx.setExit(ExitCode.OK);
      return;
    }
    if (flags.requestedBy === undefined || flags.requestedBy.trim() === '')
      throw new UsageError('--requested-by: who asked is required (the data principal or their nominee, as the ticket names them)');
    if (flags.why !== 'request' && flags.why !== 'consent-withdrawn')
      throw new UsageError(`--why: expected "request" or "consent-withdrawn", got ${JSON.stringify(flags.why ?? null)}`);
    if (flags.nextRun && flags.now) throw new UsageError('--next-run, --now: give one or neither');
    const result = await withEngine(ctx, flags, async (engine) => {
      const submitted = await submitErasureRequest(engine, {
        reference: flags.ref,
        target,
        requestedBy: flags.requestedBy!,
        reason: flags.why as RequestReason,
        submittedBy: flags.by ?? defaultActor(ctx.io.env),
        ...(flags.due === undefined ? {} : { dueAt: flags.due }),
        ...(flags.note === undefined ? {} : { note: flags.note }),
      });
      const runNow = flags.now === true || (flags.nextRun !== true && engine.options.erasure.mode === 'immediate');
      if (!runNow) return { submitted, run: null, record: await completionRecord(engine, submitted), request: submitted };
      return { submitted, ...(await runErasureRequest(engine, flags.ref)) };
    });
    if (flags.json) printJson(ctx.io, { created: result.submitted.created, request: result.request, run: result.run, record: result.record });
    else {
      const lines = [`${result.submitted.created ? 'STORED' : 'ALREADY STORED'} request ${flags.ref} (due ${time(result.request.due_at)})`];
      if (result.run)
        lines.push(`run ${result.run.run_id}: ${result.run.status}, ${count(result.run.erased_count)} files erased, ${count(result.run.failed_count)} failed`);
      lines.push(...recordLines(result.record));
      printLines(ctx.io, lines);
    }
    const stillOpen = result.request.state === 'open' && result.run !== null;
    ctx.setExit(stillOpen ? ExitCode.FAILURES : ExitCode.OK);
  });

  const requests = program
    .command('requests')
    .summary('erasure requests: state and time left, completion records, processor acknowledgements')
    .description('list erasure requests with their state and the time left (docs/rights.md, runbook REQ-002)');
  const list = requests
    .command('list', { isDefault: true })
    .description('open requests, most urgent first (--overdue, --completed, --all)')
    .option('--overdue', 'only open requests past their deadline')
    .option('--completed', 'only completed requests')
    .option('--all', 'every request')
    .option('--json', 'print the requests as JSON');
  addConnectionOptions(list, { storage: false }).action(async (flags: ConnectionFlags & { overdue?: boolean; completed?: boolean; all?: boolean }) => {
    const state = flags.all ? 'all' : flags.overdue ? 'overdue' : flags.completed ? 'completed' : 'open';
    const rows = await withEngine(ctx, flags, (engine) => listErasureRequests(engine, { state }));
    if (flags.json) printJson(ctx.io, rows);
    else printLines(ctx.io, rows.length === 0 ? [`no ${state === 'all' ? '' : `${state} `}erasure requests`] : requestTable(rows));
    ctx.setExit(state === 'overdue' && rows.length > 0 ? ExitCode.FAILURES : ExitCode.OK);
  });
  const show = requests
    .command('show')
    .description('one request and its completion record: what was erased, when, what was refused and why (--reply: as a reply to the data principal)')
    .argument('<ref>', 'the request reference')
    .option('--reply', 'print the record as a reply to the data principal')
    .option('--json', 'print the request and record as JSON');
  addConnectionOptions(show, { storage: false }).action(async (ref: string, flags: ConnectionFlags & { reply?: boolean }) => {
    const { request, record } = await withEngine(ctx, flags, async (engine) => {
      const r = await requireErasureRequest(engine.pool, ref);
      return { request: r, record: await completionRecord(engine, r) };
    });
    if (flags.json) printJson(ctx.io, { request, record });
    else
      printLines(
        ctx.io,
        flags.reply
          ? replyLines(record)
          : [
              `${request.reference}: ${request.state}${request.overdue ? ' (OVERDUE)' : ''}, ${request.target_kind} ${request.target_values.join(', ')}`,
              ...recordLines(record),
            ],
      );
    ctx.setExit(ExitCode.OK);
  });
  const run = requests
    .command('run')
    .description('run one stored request now (it is idempotent: a completed request is not run again)')
    .argument('<ref>', 'the request reference')
    .option('--json', 'print the result as JSON');
  addConnectionOptions(run, { storage: true, batches: true }).action(async (ref: string, flags: ConnectionFlags) => {
    const result = await withEngine(ctx, flags, (engine) => runErasureRequest(engine, ref));
    if (flags.json) printJson(ctx.io, result);
    else printLines(ctx.io, recordLines(result.record));
    ctx.setExit(result.request.state === 'open' ? ExitCode.FAILURES : ExitCode.OK);
  });
  const ack = requests
    .command('ack')
    .description("record a processor's acknowledgement of a request's notice")
    .argument('<ref>', 'the request reference')
    .argument('<processor>', 'the processor name, as configured in erasureProcessors')
    .option('--json', 'print the notice as JSON');
  addActorOption(ack);
  addConnectionOptions(ack, { storage: false }).action(async (ref: string, processor: string, flags: ConnectionFlags & { by?: string }) => {
    const notice = await withEngine(ctx, flags, (engine) => acknowledgeNotice(engine, ref, processor, flags.by ?? defaultActor(ctx.io.env)));
    if (flags.json) printJson(ctx.io, notice);
    else printLines(ctx.io, [`ACKNOWLEDGED ${ref} by ${processor} at ${time(notice.acknowledged_at)} (recorded by ${notice.acknowledged_by})`]);
    ctx.setExit(ExitCode.OK);
  });
  const unacked = requests
    .command('unacknowledged')
    .description('processor notices not acknowledged yet (exits 1 when there are any)')
    .option('--json', 'print the notices as JSON');
  addConnectionOptions(unacked, { storage: false }).action(async (flags: ConnectionFlags) => {
    const rows = await withEngine(ctx, flags, (engine) => listUnacknowledgedNotices(engine));
    if (flags.json) printJson(ctx.io, rows);
    else
      printLines(
        ctx.io,
        rows.length === 0
          ? ['every processor notice is acknowledged']
          : table(
              ['REFERENCE', 'PROCESSOR', 'STATUS', 'SENT'],
              rows.map((n) => [n.reference, n.processor, n.status + (n.error ? ` (${n.error})` : ''), time(n.sent_at)]),
            ),
      );
    ctx.setExit(rows.length > 0 ? ExitCode.FAILURES : ExitCode.OK);
  });
}

function eraseTarget(flags: EraseFlags): ErasureTarget {
  const given = (['job', 'key', 'principal'] as const).filter((k) => flags[k] !== undefined);
  if (given.length !== 1) throw new UsageError('target: give exactly one of --job, --key or --principal (each repeatable)');
  const kind = given[0]!;
  return { kind, values: flags[kind]! };
}

function requestTable(rows: readonly ErasureRequest[]): string[] {
  return table(
    ['REFERENCE', 'STATE', 'WHY', 'TARGET', 'RECEIVED', 'DUE', 'LEFT'],
    rows.map((r) => [
      r.reference,
      r.overdue ? 'OVERDUE' : r.state,
      r.reason,
      `${r.target_kind} x${r.target_values.length}`,
      time(r.received_at),
      time(r.due_at),
      r.seconds_left === null ? '-' : r.seconds_left < 0 ? `-${duration(-r.seconds_left)}` : duration(r.seconds_left),
    ]),
  );
}

function recordLines(r: CompletionRecord): string[] {
  const lines = [
    `  ${r.state === 'completed' ? `completed ${time(r.completed_at)}` : `open${r.overdue ? ' and OVERDUE' : ''}, due ${time(r.due_at)}`}`,
    `  erased: ${count(r.rows_erased)} rows, ${count(r.files_erased)} files${r.rows_unlinked > 0 ? `; ${count(r.rows_unlinked)} rows erased whose file stays (shared with other rows)` : ''}`,
  ];
  for (const x of r.retained) lines.push(`  refused: ${count(x.rows)} ${x.purpose} rows, retained under ${x.statute}`);
  if (r.held_rows > 0) lines.push(`  kept: ${count(r.held_rows)} rows under a legal hold`);
  for (const p of r.processors)
    lines.push(`  processor ${p.processor}: ${p.status}${p.acknowledged_at ? `, acknowledged ${time(p.acknowledged_at)}` : ', not acknowledged'}`);
  return lines;
}

/** The reply to the data principal (docs/rights.md#the-reply): plain sentences, no internal ids. */
export function replyLines(r: CompletionRecord): string[] {
  const what = r.reason === 'consent-withdrawn' ? 'the withdrawal of your consent' : 'your request for erasure';
  const lines = [`Reference: ${r.reference}`, `We received ${what} on ${time(r.received_at)}.`];
  if (r.state !== 'completed') {
    lines.push(`It is being processed; we will complete it by ${time(r.due_at)}.`);
    return lines;
  }
  lines.push(
    `We completed it on ${time(r.completed_at)}: ${count(r.rows_erased + r.rows_unlinked)} records${r.files_erased > 0 ? ` and ${count(r.files_erased)} documents` : ''} were erased${r.last_erased_at ? ` (by ${time(r.last_erased_at)})` : ''}.`,
  );
  for (const x of r.retained)
    lines.push(
      `${count(x.rows)} ${x.purpose} records are kept because the law requires us to keep them (${x.statute}); they will be erased when that period ends.`,
    );
  if (r.held_rows > 0)
    lines.push(`${count(r.held_rows)} records are kept under a legal hold; they will be erased when it is released, if no other duty applies.`);
  if (r.processors.length > 0)
    lines.push(
      `We have told the ${r.processors.length === 1 ? 'processor' : `${r.processors.length} processors`} who handle this data on our behalf to erase it too.`,
    );
  return lines;
}

function previewLines(p: RequestPreview): string[] {
  const rows = (title: string, l: RequestPreview['erase'], extra = (_: RequestPreview['erase']['rows'][number]) => ''): string[] => [
    `${title}: ${count(l.count)}`,
    ...l.rows.map((r) => `  ${r.job_id}  ${r.purpose || '-'}  ${r.file_key}${extra(r)}`),
    ...(l.count > l.rows.length ? [`  ... ${count(l.count - l.rows.length)} more (see --json)`] : []),
  ];
  return [
    `DRY RUN request ${p.reference} (policy version ${p.policy_version}): nothing stored or changed`,
    ...rows(`would erase (${count(p.files_erased)} files)`, p.erase),
    ...rows('would erase the row, keep the file (other rows share it)', p.unlink),
    ...rows('would refuse (retained by statute)', p.retained, (r) => `  retained under ${p.retained.statutes[r.purpose] ?? '?'}`),
    ...rows('would keep (legal hold)', p.held),
    ...rows('would refuse (unsafe key: never touched)', p.refused),
  ];
}
