import { Option, type Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { monthlyReport, parseMonth, reportHtml } from '@lethe/engine/operations';
import { durationMs } from '../durations.js';
import { ExitCode, UsageError } from '../output.js';
import type { CommandContext } from '../program.js';
import { findChromium, printPdf } from '../render/pdf-print.js';
import { reportCsv, reportText } from '../render/report.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';

type Format = 'text' | 'json' | 'csv' | 'html' | 'pdf';

interface ReportFlags extends ConnectionFlags {
  readonly month?: string;
  readonly format?: Format;
  readonly grace: string;
  readonly output?: string;
}

/** Runbook "Compliance Reporting": the monthly report for the DPDP compliance officer. */
export function registerReport(program: Command, ctx: CommandContext): void {
  const command = program
    .command('report')
    .summary('monthly compliance report (text, json, csv, html, pdf)')
    .description("the runbook's monthly compliance report: totals by purpose, failures and rate, worst lateness, files still present past expiry; COMPLIANT only when none is late. Exits 1 when NON-COMPLIANT")
    .option('--month <YYYY-MM>', 'the month, e.g. 2025-11 (UTC); default: the last full month')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'csv', 'html', 'pdf']))
    .option('--output <file>', 'write the report to this file instead of stdout (html: one self-contained page; pdf: printed by headless Chromium, LETHE_CHROMIUM or chromium on PATH; docs/runbook.md#compliance-reporting)')
    .option('--grace <duration>', 'late = still present more than one schedule period + this after expiry', '24h')
    .option('--json', 'same as --format json');
  addConnectionOptions(command, { storage: true }).action(async (flags: ReportFlags) => {
    if (flags.month !== undefined) parseMonthFlag(flags.month);
    if (flags.json && flags.format && flags.format !== 'json') throw new UsageError(`--format: --json asks for json, got --format ${flags.format}`);
    if (flags.output !== undefined && flags.output.trim() === '') throw new UsageError('--output: expected a file path, got ""');
    const graceMs = durationMs('--grace', flags.grace, { allowZero: true });
    const format: Format = flags.json ? 'json' : (flags.format ?? 'text');
    // Found before connecting: a missing browser fails at once, naming what to install.
    const browser = format === 'pdf' ? findChromium(ctx.io.env) : null;
    const report = await withEngine(ctx, flags, (engine) => monthlyReport(engine, flags.month, { graceMs, ...(ctx.signal ? { signal: ctx.signal } : {}) }));
    await emit(ctx, flags.output, await render(report, format, browser));
    ctx.setExit(report.status === 'COMPLIANT' ? ExitCode.OK : ExitCode.FAILURES);
  });
}

async function render(report: Awaited<ReturnType<typeof monthlyReport>>, format: Format, browser: string | null): Promise<string | Buffer> {
  if (format === 'json') return `${JSON.stringify(report, null, 2)}\n`;
  if (format === 'html') return reportHtml(report);
  if (format === 'pdf') return printPdf(browser!, reportHtml(report));
  return `${(format === 'csv' ? reportCsv(report) : reportText(report)).join('\n')}\n`;
}

async function emit(ctx: CommandContext, output: string | undefined, content: string | Buffer): Promise<void> {
  if (output === undefined) ctx.io.stdout.write(content);
  else await writeFile(output, content);
}

/** Checked before connecting, so a typo fails at once with exit 2. */
function parseMonthFlag(month: string): void {
  try {
    parseMonth(month);
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/^month:/, '--month:'));
  }
}
