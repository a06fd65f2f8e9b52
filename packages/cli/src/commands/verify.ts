import type { Command } from 'commander';
import { verifyExpired, type VerifyReport } from '@lethe/engine/operations';
import { durationMs } from '../durations.js';
import { ExitCode, printJson, printLines, UsageError } from '../output.js';
import type { CommandContext } from '../program.js';
import { atLeast, codeMessage, count, duration, plural, time } from '../render/format.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';
import { positiveInt } from './run.js';
import { addLedgerVerifyOptions, ledgerVerifyAction, type LedgerVerifyFlags } from './verify-ledger.js';

interface VerifyFlags extends ConnectionFlags, LedgerVerifyFlags {
  readonly grace: string;
  readonly show: string;
  readonly ledger?: boolean;
}

/** Runbook OP-005: expired rows whose files still exist, and how overdue each is. */
export function registerVerify(program: Command, ctx: CommandContext): void {
  const command = program
    .command('verify')
    .summary('expired files still present, how overdue (OP-005)')
    .description(
      'check storage for expired rows whose files still exist, with how overdue each is (runbook OP-005); exits 1 if any is overdue by more than the grace',
    )
    .option('--grace <duration>', 'overdue by more than this is a failure (e.g. 24h, 2d; 0 for none)', '24h')
    .option('--show <n>', 'most overdue files to list (the JSON keeps up to 1000)', '20')
    .option('--json', 'print the report as JSON')
    .option(
      '--ledger',
      'instead: check that files the ledger records as erased are gone (docs/safety.md#ledger-verification-under-deletion-check; same as `lethe verify-ledger`)',
    );
  addLedgerVerifyOptions(command);
  addConnectionOptions(command, { storage: true, batches: true }).action(async (flags: VerifyFlags) => {
    if (flags.ledger) return ledgerVerifyAction(ctx, flags);
    if (flags.sample !== undefined || flags.all || flags.repair)
      throw new UsageError('--sample, --all and --repair go with --ledger (lethe verify --ledger ...)');
    const graceMs = durationMs('--grace', flags.grace, { allowZero: true });
    const show = positiveInt('--show', flags.show, 0);
    const report = await withEngine(ctx, flags, (engine) => verifyExpired(engine, { graceMs, ...(ctx.signal ? { signal: ctx.signal } : {}) }));
    if (flags.json) printJson(ctx.io, report);
    else printLines(ctx.io, verifyLines(report, show));
    ctx.setExit(report.past_grace > 0 ? ExitCode.FAILURES : ExitCode.OK);
  });
}

/** Files that fail on every run are not waiting for a run: say to fix them, not to run again. */
function failLine(r: VerifyReport, grace: string): string {
  const failing = r.findings.filter((f) => f.past_grace && f.repeated_failure).length;
  const head = `FAIL: ${plural(r.past_grace, 'file')} overdue by more than ${grace}.`;
  if (failing === 0) return `${head} Run \`lethe run\` (or \`lethe run --backlog\`), then \`lethe runs show <id>\` for failures.`;
  const rest = r.past_grace - failing;
  return (
    `${head} ${plural(failing, 'file')} failed in 2 or more runs: fix the cause shown under each (a rerun alone will not erase them), then \`lethe run\`.` +
    (rest > 0 ? ` For the other ${count(rest)}: \`lethe run\`, then \`lethe runs show <id>\` for failures.` : '')
  );
}

export function verifyLines(r: VerifyReport, show: number): string[] {
  const grace = duration(r.grace_seconds);
  const lines = [`Checked ${plural(r.checked, 'expired row')} (expired before ${time(r.expired_before)}) against ${r.storage}; grace ${grace}`];
  if (r.present === 0) lines.push('No expired file is still present.');
  else {
    lines.push(
      `${plural(r.present, 'expired file')} still present, ${count(r.past_grace)} overdue by more than the grace; worst ${duration(r.worst_overdue_seconds)}:`,
    );
    for (const f of r.findings.slice(0, show)) {
      lines.push(
        `  ${f.past_grace ? 'OVERDUE' : 'due    '} ${duration(f.overdue_seconds).padEnd(8)} ${f.purpose.padEnd(15)} ${f.file_key} (job ${f.job_id}, expired ${time(f.expires_at)})`,
      );
      const rf = f.repeated_failure;
      if (rf)
        lines.push(
          `      failed in ${rf.runs} runs, last ${time(rf.last_failed_at)}: ${codeMessage(rf.last_error_code ?? '?', rf.last_error ?? '')}; fix: ${rf.fix}`,
        );
    }
    if (r.present > Math.min(show, r.findings.length)) lines.push(`  ... ${count(r.present - Math.min(show, r.findings.length))} more (--show N, or --json)`);
  }
  if (r.absent > 0) lines.push(`${plural(r.absent, 'expired row')} whose file is already gone: the next run removes them (recorded as absent).`);
  if (r.shared > 0) lines.push(`${plural(r.shared, 'expired row')} kept because a live row shares the file.`);
  if (r.held > 0) lines.push(`${plural(r.held, 'expired row')} kept under a legal hold (\`lethe holds\`).`);
  if (r.unverifiable > 0) {
    lines.push(`${plural(r.unverifiable, 'expired row')} could not be checked:`);
    for (const u of r.unverifiable_samples.slice(0, 5)) lines.push(`  ${JSON.stringify(u.file_key)} (job ${u.job_id}): ${codeMessage(u.code, u.message)}`);
  }
  for (const u of r.unreadable) {
    lines.push(
      `Never judged: ${atLeast(u.count, u.capped, 'row')} ${u.reason === 'unknown_purpose' ? `with no policy for purpose ${JSON.stringify(u.purpose)}` : `of purpose ${JSON.stringify(u.purpose)} with ${u.reason === 'infinite_created_at' ? 'an infinite' : 'no'} created_at`} (e.g. ids ${u.sample_ids.join(', ')})`,
    );
  }
  lines.push(r.past_grace > 0 ? failLine(r, grace) : `OK: no expired file is overdue by more than ${grace}.`);
  return lines;
}
