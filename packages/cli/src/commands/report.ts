import { Option, type Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import {
  loadSigningKey,
  monthlyReportSnapshot,
  parseMonth,
  reportHtml,
  signReport,
  type ComplianceReport,
  type ReportSnapshotInfo,
} from '@lethe/engine/operations';
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
  readonly regenerate?: boolean;
  readonly output?: string;
}

/** Runbook "Compliance Reporting": the monthly report for the DPDP compliance officer. */
export function registerReport(program: Command, ctx: CommandContext): void {
  const command = program
    .command('report')
    .summary('monthly compliance report (text, json, csv, html, pdf)')
    .description(
      "the runbook's monthly compliance report: totals by purpose, failures and rate, worst lateness, files still present past expiry; COMPLIANT only when none is late. Exits 1 when NON-COMPLIANT",
    )
    .option('--month <YYYY-MM>', 'the month, e.g. 2025-11 (UTC); default: the last full month')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'csv', 'html', 'pdf']))
    .option(
      '--output <file>',
      'write the report to this file instead of stdout (html: one self-contained page; pdf: printed by headless Chromium, LETHE_CHROMIUM or chromium on PATH; docs/runbook.md#compliance-reporting)',
    )
    .option('--grace <duration>', 'late = still present more than one schedule period + this after expiry', '24h')
    .option('--json', 'same as --format json')
    .option(
      '--regenerate',
      'a closed month: generate the report again from the database and storage now and compare it with the stored snapshot (exit 1 on a mismatch); the snapshot is kept',
    );
  addConnectionOptions(command, { storage: true }).action(async (flags: ReportFlags) => {
    if (flags.month !== undefined) parseMonthFlag(flags.month);
    if (flags.json && flags.format && flags.format !== 'json') throw new UsageError(`--format: --json asks for json, got --format ${flags.format}`);
    if (flags.output !== undefined && flags.output.trim() === '') throw new UsageError('--output: expected a file path, got ""');
    const graceMs = durationMs('--grace', flags.grace, { allowZero: true });
    const format: Format = flags.json ? 'json' : (flags.format ?? 'text');
    // Found before connecting: a missing browser fails at once, naming what to install.
    const browser = format === 'pdf' ? findChromium(ctx.io.env) : null;
    const { report, snapshot, signingKey } = await withEngine(ctx, flags, async (engine) => ({
      ...(await monthlyReportSnapshot(engine, flags.month, {
        graceMs,
        ...(flags.regenerate ? { regenerate: true } : {}),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      })),
      signingKey: engine.options.ledgerSigningKey,
    }));
    // Where the report came from goes with it in json and text, beside it (stderr) for csv; an html or
    // pdf page is the stored report itself (a closed month's page is the same each time).
    if (format === 'csv') for (const line of snapshotLines(report.month, snapshot)) ctx.io.stderr.write(`lethe: ${line}\n`);
    const content = await render(ctx, report, snapshot, format, browser, flags.output === undefined);
    await emit(ctx, flags.output, content);
    if (signingKey !== null) await signEmitted(ctx, flags.output, content, signingKey);
    if (snapshot.intact === false)
      ctx.io.stderr.write(
        `lethe: warning: the stored snapshot of ${report.month} no longer hashes to its sha256 ${snapshot.sha256}: it was altered in lethe_monthly_reports\n`,
      );
    const trusted = snapshot.intact !== false && snapshot.matches !== false;
    ctx.setExit(report.status === 'COMPLIANT' && trusted ? ExitCode.OK : ExitCode.FAILURES);
  });
}

async function render(
  ctx: CommandContext,
  report: ComplianceReport,
  snapshot: ReportSnapshotInfo,
  format: Format,
  browser: string | null,
  toTerminal: boolean,
): Promise<string | Buffer> {
  if (format === 'json') return `${JSON.stringify({ ...report, snapshot }, null, 2)}\n`;
  if (format === 'html') return reportHtml(report);
  if (format === 'pdf') return printPdf(browser!, reportHtml(report));
  if (format === 'csv') return `${reportCsv(report).join('\n')}\n`;
  // Colour only on the terminal, never into a file.
  return `${[...(toTerminal ? reportText(report, ctx.paint) : reportText(report)), '', ...snapshotLines(report.month, snapshot)].join('\n')}\n`;
}

/**
 * With a ledger signing key (docs/safety.md#tamper-evident-ledger) the report is signed as written:
 * the signature goes to FILE.sig beside --output (or to stderr when the report went to stdout), and
 * `lethe ledger verify --public-key K --report FILE` checks it offline.
 */
async function signEmitted(ctx: CommandContext, output: string | undefined, content: string | Buffer, keyPath: string): Promise<void> {
  const signature = signReport(loadSigningKey(keyPath), content);
  if (output === undefined) {
    ctx.io.stderr.write(`lethe: report signature (Ed25519, base64, over the bytes written to stdout): ${signature}\n`);
    return;
  }
  await writeFile(`${output}.sig`, `${signature}\n`);
  ctx.io.stderr.write(`lethe: signed the report (Ed25519): ${output}.sig\n`);
}

async function emit(ctx: CommandContext, output: string | undefined, content: string | Buffer): Promise<void> {
  if (output === undefined) ctx.io.stdout.write(content);
  else await writeFile(output, content);
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
      return [
        `Snapshot: this is the stored report for ${month}, generated at ${s.generated_at ?? '-'} (${hash}); --regenerate compares it with the database now`,
      ];
    case 'regenerated':
      return s.matches
        ? [`Regenerated: same as the snapshot generated at ${s.generated_at ?? '-'} (${hash})`]
        : [
            `Regenerated: MISMATCH with the snapshot generated at ${s.generated_at ?? '-'} (${hash}); fields that differ: ${s.differences.join(', ')}. The snapshot is the record; this report shows the database and storage now`,
          ];
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
