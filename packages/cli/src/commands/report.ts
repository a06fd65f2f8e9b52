import { Option, type Command } from 'commander';
import { monthlyReportSnapshot, parseMonth, type ReportSnapshotInfo } from '@lethe/engine/operations';
import { durationMs } from '../durations.js';
import { ExitCode, printJson, printLines, UsageError } from '../output.js';
import type { CommandContext } from '../program.js';
import { reportCsv, reportText } from '../render/report.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';

interface ReportFlags extends ConnectionFlags {
  readonly month?: string;
  readonly format?: 'text' | 'json' | 'csv';
  readonly grace: string;
  readonly regenerate?: boolean;
}

/** Runbook "Compliance Reporting": the monthly report for the DPDP compliance officer. */
export function registerReport(program: Command, ctx: CommandContext): void {
  const command = program
    .command('report')
    .summary('monthly compliance report (text, json, csv)')
    .description("the runbook's monthly compliance report: totals by purpose, failures and rate, worst lateness, files still present past expiry; COMPLIANT only when none is late. Exits 1 when NON-COMPLIANT")
    .option('--month <YYYY-MM>', 'the month, e.g. 2025-11 (UTC); default: the last full month')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'csv']))
    .option('--grace <duration>', 'late = still present more than one schedule period + this after expiry', '24h')
    .option('--json', 'same as --format json')
    .option('--regenerate', 'a closed month: generate the report again from the database and storage now and compare it with the stored snapshot (exit 1 on a mismatch); the snapshot is kept');
  addConnectionOptions(command, { storage: true }).action(async (flags: ReportFlags) => {
    if (flags.month !== undefined) parseMonthFlag(flags.month);
    if (flags.json && flags.format && flags.format !== 'json') throw new UsageError(`--format: --json asks for json, got --format ${flags.format}`);
    const graceMs = durationMs('--grace', flags.grace, { allowZero: true });
    const { report, snapshot } = await withEngine(ctx, flags, (engine) =>
      monthlyReportSnapshot(engine, flags.month, { graceMs, ...(flags.regenerate ? { regenerate: true } : {}), ...(ctx.signal ? { signal: ctx.signal } : {}) }));
    const format = flags.json ? 'json' : (flags.format ?? 'text');
    if (format === 'json') printJson(ctx.io, { ...report, snapshot });
    else if (format === 'csv') printLines(ctx.io, reportCsv(report));
    else printLines(ctx.io, [...reportText(report, ctx.paint), '', ...snapshotLines(report.month, snapshot)]);
    if (format === 'csv') for (const line of snapshotLines(report.month, snapshot)) ctx.io.stderr.write(`lethe: ${line}\n`);
    if (snapshot.intact === false) ctx.io.stderr.write(`lethe: warning: the stored snapshot of ${report.month} no longer hashes to its sha256 ${snapshot.sha256}: it was altered in lethe_monthly_reports\n`);
    const trusted = snapshot.intact !== false && snapshot.matches !== false;
    ctx.setExit(report.status === 'COMPLIANT' && trusted ? ExitCode.OK : ExitCode.FAILURES);
  });
}

/** Where this report comes from: the stored snapshot, stored now, regenerated and compared, or live. */
export function snapshotLines(month: string, s: ReportSnapshotInfo): string[] {
  const hash = `sha256 ${s.sha256 ?? '-'}`;
  switch (s.source) {
    case 'live':
      return [`Snapshot: none (${month} is not over: this report is live and not stored)`];
    case 'created':
      return [`Snapshot: stored now (${hash}); later reports for ${month} print this snapshot (--regenerate compares it with the database)`];
    case 'stored':
      return [`Snapshot: this is the stored report for ${month}, generated at ${s.generated_at ?? '-'} (${hash}); --regenerate compares it with the database now`];
    case 'regenerated':
      return s.matches
        ? [`Regenerated: same as the snapshot generated at ${s.generated_at ?? '-'} (${hash})`]
        : [`Regenerated: MISMATCH with the snapshot generated at ${s.generated_at ?? '-'} (${hash}); fields that differ: ${s.differences.join(', ')}. The snapshot is the record; this report shows the database and storage now`];
  }
}

/** Checked before connecting, so a typo fails at once with exit 2. */
function parseMonthFlag(month: string): void {
  try {
    parseMonth(month);
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/^month:/, '--month:'));
  }
}
