import type { Command } from 'commander';
import { lookupFileKey, type LookupResult } from '@lethe/engine/operations';
import { ExitCode, printJson, printLines, UsageError } from '../output.js';
import type { CommandContext } from '../program.js';
import { duration, relative, time } from '../render/format.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';

/** Runbook FM-003 ("my document was deleted too early"): everything Lethe knows about one key. */
export function registerLookup(program: Command, ctx: CommandContext): void {
  const command = program
    .command('lookup')
    .summary('what Lethe knows about one file key (FM-003)')
    .description(
      'when, by which run, under which purpose and policy version a file was erased and how long after expiry; or that it still exists and when it expires (runbook FM-003). Exits 1 when Lethe knows nothing of the key',
    )
    .argument('<file_key>', 'the file key as stored in jobs.file_key, e.g. uploads/2025/11/invoice.pdf')
    .option('--json', 'print the result as JSON');
  addConnectionOptions(command, { storage: true }).action(async (fileKey: string, flags: ConnectionFlags) => {
    if (fileKey.trim() === '') throw new UsageError('file_key: expected a non-empty file key like "uploads/2025/11/invoice.pdf"');
    const result = await withEngine(ctx, flags, (engine) => lookupFileKey(engine, fileKey));
    if (flags.json) printJson(ctx.io, result);
    else printLines(ctx.io, lookupLines(result));
    ctx.setExit(result.state === 'unknown' ? ExitCode.FAILURES : ExitCode.OK);
  });
}

const STATE_TEXT: Record<LookupResult['state'], string> = {
  erased: 'ERASED (no row refers to it any more)',
  retained: 'RETAINED (rows refer to it; not expired yet)',
  expired: 'EXPIRED, waiting for the next run',
  held: 'HELD (legal hold: runs keep the file and its rows until `lethe unhold`)',
  orphan_file: 'ORPHAN FILE (in storage, no row, no ledger entry: see `lethe reconcile`)',
  unknown: 'UNKNOWN (no row, no ledger entry, not in storage)',
};

/** Ledger outcomes that need no error text (the undo-window ones: docs/safety.md#undo-window-default-off). */
const LEDGER_TEXT: Readonly<Record<string, string>> = {
  erased: 'erased',
  absent: 'found already gone, row removed',
  trashed: 'moved to the undo-window trash, row removed',
  purged: 'trash copy purged',
  restored: 'restored from the trash',
  reerased: 'found back in storage and erased again',
  unlinked: 'row erased on request; the file stays, other rows share it',
  held: 'kept on request: the file is under a legal hold',
};

/** A restore from a backup also writes `restored`; its note (the error column) names the backup. */
function ledgerText(l: LookupResult['ledger'][number]): string {
  if (l.outcome === 'restored' && l.error?.startsWith('restored from backup')) return l.error;
  if (l.outcome === 'retained') return `refused on request: retained under ${l.error ?? '?'}`;
  return LEDGER_TEXT[l.outcome] ?? `${l.outcome} (${l.error_code ?? '?'}: ${l.error ?? ''})`;
}

export function lookupLines(r: LookupResult): string[] {
  const lines = [`${r.file_key}: ${STATE_TEXT[r.state]}`];
  for (const h of r.holds ?? [])
    lines.push(`  hold ${h.id}: ${JSON.stringify(h.reason)} by ${h.created_by} at ${time(h.created_at)}${h.until ? `, until ${time(h.until)}` : ''}`);
  for (const row of r.rows) {
    const judged =
      row.unjudged_reason === 'unknown_purpose'
        ? `no policy for purpose ${JSON.stringify(row.purpose)}: never deleted until one exists`
        : row.unjudged_reason === 'null_created_at'
          ? 'no created_at: never deleted'
          : row.unjudged_reason === 'infinite_created_at'
            ? 'created_at is infinite: never deleted'
            : `${row.retention} retention: ${row.expired ? 'expired' : 'expires'} ${time(row.expires_at)} (${relative(row.expires_in_seconds ?? 0)})`;
    lines.push(`  row ${row.job_id}: purpose ${row.purpose ?? '-'}, created ${time(row.created_at)}, ${judged}`);
  }
  if (r.rows_truncated) lines.push('  ... more rows (see --json)');
  for (const l of r.ledger) {
    const what = ledgerText(l);
    const after = l.after_expiry_seconds === null ? '' : `, ${duration(l.after_expiry_seconds)} after it expired ${time(l.expires_at)}`;
    lines.push(
      `  ${time(l.erased_at)}: ${what} by run ${l.run_id}${l.run_trigger ? ` (${l.run_trigger})` : ''}, job ${l.job_id || '-'}, purpose ${l.purpose ?? '-'}, policy version ${l.policy_version ?? '-'}${l.retention ? ` (${l.retention})` : ''}${after}`,
    );
  }
  if (r.ledger_truncated) lines.push('  ... older ledger entries (see --json)');
  const s = r.storage;
  lines.push(
    s.checked
      ? `  in storage: ${s.exists ? `yes (${s.size} bytes, modified ${time(s.modified_at)})` : 'no'}`
      : `  in storage: not checked (${s.error?.message ?? 'unknown'})`,
  );
  return lines;
}
