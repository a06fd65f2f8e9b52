import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { ErrorCodes } from '@lethe/engine';
import { exportLedger, loadPublicKey, verifyLedgerChain, verifyReport, type ChainVerifyReport } from '@lethe/engine/operations';
import { ExitCode, printJson, printLines, UsageError } from '../output.js';
import type { CommandContext } from '../program.js';
import { count, plural } from '../render/format.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';

interface LedgerVerifyChainFlags extends ConnectionFlags {
  readonly fromExport?: string;
  readonly publicKey?: string;
  readonly report?: string;
  readonly signature?: string;
  readonly json?: boolean;
}

interface LedgerExportFlags extends ConnectionFlags {
  readonly output: string;
  readonly json?: boolean;
}

/**
 * `lethe ledger verify` and `lethe ledger export` (docs/safety.md#tamper-evident-ledger): the hash
 * chain over the ledger's batches, checked from the database or offline from an export. Whether
 * erased files are really gone from storage is `lethe verify-ledger`.
 */
export function registerLedger(program: Command, ctx: CommandContext): void {
  const ledger = program.command('ledger').summary('check the tamper-evident ledger (hash chain, signed run heads) or export it');
  const verify = ledger
    .command('verify')
    .summary('recompute the ledger hash chain; name the first run and batch edited out of band')
    .description(
      "recompute the hash chain over every ledger batch since the anchor and name the first run and batch where a row was changed, deleted or inserted out of band (LETHE_E_LEDGER_CHAIN); with --public-key, check each run's signed chain head (LETHE_E_LEDGER_SIGNATURE). Exits 1 on any finding. Files still in storage: lethe verify-ledger",
    )
    .option('--from-export <file>', 'check an export written by `lethe ledger export` instead of the database (offline: no database needed)')
    .option('--public-key <file>', 'Ed25519 public key (PEM) to check the signed run heads with')
    .option(
      '--report <file>',
      'instead of the chain, check a signed monthly report file (`lethe report --output FILE` with a signing key) against its signature; needs --public-key, no database',
    )
    .option('--signature <file>', 'the signature file of --report (default: the report file + .sig)')
    .option('--json', 'print the report as JSON');
  addConnectionOptions(verify, { storage: false }).action(async (flags: LedgerVerifyChainFlags) => {
    if (flags.signature !== undefined && flags.report === undefined) throw new UsageError('--signature: only with --report FILE');
    if (flags.report !== undefined) {
      if (flags.publicKey === undefined) throw new UsageError('--report: needs --public-key FILE (the Ed25519 public key to check the signature with)');
      if (flags.fromExport !== undefined) throw new UsageError('--report: checks a report file; give --from-export in a separate call');
      const checked = await checkReportSignature(flags.report, flags.signature ?? `${flags.report}.sig`, loadPublicKey(flags.publicKey));
      if (flags.json) printJson(ctx.io, checked);
      else
        printLines(ctx.io, [
          checked.ok
            ? `${checked.report}: the signature (${checked.signature}) is valid for this public key.`
            : `${ErrorCodes.LEDGER_SIGNATURE}: ${checked.problem}`,
        ]);
      ctx.setExit(checked.ok ? ExitCode.OK : ExitCode.FAILURES);
      return;
    }
    const publicKey = flags.publicKey === undefined ? null : loadPublicKey(flags.publicKey);
    const report =
      flags.fromExport !== undefined
        ? await verifyLedgerChain(null, { fromExport: flags.fromExport, publicKey })
        : await withEngine(ctx, flags, (engine) => verifyLedgerChain(engine.pool, { publicKey }));
    if (flags.json) printJson(ctx.io, report);
    else printLines(ctx.io, chainVerifyLines(report));
    ctx.setExit(report.ok ? ExitCode.OK : ExitCode.FAILURES);
  });
  const exp = ledger
    .command('export')
    .summary('write the ledger chain, its rows and the run heads to one JSON file that `lethe ledger verify --from-export` checks offline')
    .requiredOption('-o, --output <file>', 'the JSON file to write (mode 0600)')
    .option('--json', 'print what was written as JSON');
  addConnectionOptions(exp, { storage: false }).action(async (flags: LedgerExportFlags) => {
    const written = await withEngine(ctx, flags, (engine) => exportLedger(engine, flags.output));
    if (flags.json) printJson(ctx.io, written);
    else
      printLines(ctx.io, [
        `Wrote ${written.path}: ${plural(written.links, 'batch')}, ${plural(written.rows, 'ledger row')}, ${plural(written.runs, 'run head')}.`,
      ]);
    ctx.setExit(ExitCode.OK);
  });
}

export function chainVerifyLines(r: ChainVerifyReport): string[] {
  const from = r.source === 'export' ? 'the export' : 'the database';
  const lines = [
    `Checked ${count(r.links_checked)} ledger batches (${count(r.rows_checked)} rows) in ${from}, from batch ${r.anchor_seq} (the anchor) to batch ${r.head_seq} (the head).`,
  ];
  if (r.signatures.checked) lines.push(`Signed run heads: ${count(r.signatures.valid)} valid, ${count(r.signatures.unsigned)} unsigned.`);
  if (r.ok) lines.push('The ledger chain verifies: no row was changed, deleted or inserted out of band.');
  for (const p of r.problems) lines.push(`${p.code}: ${p.message}`);
  return lines;
}

interface ReportSignatureCheck {
  readonly report: string;
  readonly signature: string;
  readonly ok: boolean;
  readonly problem: string | null;
}

async function readArg(path: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new UsageError(`${flag}: expected a readable file, got ${JSON.stringify(path)} (${(error as Error).message})`);
  }
}

/** A monthly report file against its detached Ed25519 signature (docs/safety.md#tamper-evident-ledger). */
async function checkReportSignature(report: string, signature: string, key: ReturnType<typeof loadPublicKey>): Promise<ReportSignatureCheck> {
  const content = await readArg(report, '--report');
  const sig = (await readArg(signature, '--signature')).toString('utf8');
  const ok = verifyReport(key, content, sig);
  return {
    report,
    signature,
    ok,
    problem: ok
      ? null
      : `${report}: the signature in ${signature} does not verify with this public key (the file was changed after it was signed, or another key signed it)`,
  };
}
