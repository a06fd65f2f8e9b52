import { Option, type Command } from 'commander';
import { monthlyReport, parseMonth } from '@lethe/engine/operations';
import { durationMs } from '../durations.js';
import { ExitCode, printJson, printLines, UsageError } from '../output.js';
import type { CommandContext } from '../program.js';
import { reportCsv, reportText } from '../render/report.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';

interface ReportFlags extends ConnectionFlags {
  readonly month?: string;
  readonly format?: 'text' | 'json' | 'csv';
  readonly grace: string;
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
    .option('--json', 'same as --format json');
  addConnectionOptions(command, { storage: true }).action(async (flags: ReportFlags) => {
    if (flags.month !== undefined) parseMonthFlag(flags.month);
    if (flags.json && flags.format && flags.format !== 'json') throw new UsageError(`--format: --json asks for json, got --format ${flags.format}`);
    const graceMs = durationMs('--grace', flags.grace, { allowZero: true });
    const report = await withEngine(ctx, flags, (engine) => monthlyReport(engine, flags.month, { graceMs, ...(ctx.signal ? { signal: ctx.signal } : {}) }));
    const format = flags.json ? 'json' : (flags.format ?? 'text');
    if (format === 'json') printJson(ctx.io, report);
    else printLines(ctx.io, format === 'csv' ? reportCsv(report) : reportText(report));
    ctx.setExit(report.status === 'COMPLIANT' ? ExitCode.OK : ExitCode.FAILURES);
  });
}

/** Checked before connecting, so a typo fails at once with exit 2. */
function parseMonthFlag(month: string): void {
  try {
    parseMonth(month);
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/^month:/, '--month:'));
  }
}
