import type { Command } from 'commander';
import { DEFAULT_MAX_CLOCK_SKEW_MS, runDoctor, type DoctorReport } from '@lethe/engine/operations';
import { waitDurationMs } from '../durations.js';
import { ExitCode, printJson, printLines } from '../output.js';
import type { CommandContext } from '../program.js';
import { createPalette, type Palette } from '../render/colour.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';

interface DoctorFlags extends ConnectionFlags {
  readonly maxClockSkew?: string;
}

const MARK: Readonly<Record<string, string>> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

/**
 * `lethe doctor` (runbook FM-001, FM-002 "check storage permissions" / "check R2
 * connectivity", EMERGENCY-003 step 3): every check a run depends on, one line each; exit 1 when
 * any fails, so a deploy pipeline or an init container can gate on it.
 */
export function registerDoctor(program: Command, ctx: CommandContext): void {
  const command = program
    .command('doctor')
    .summary('preflight: database, migrations, indexes, storage write/read/delete, clock (FM-002)')
    .description(
      "check what a run needs: the database answers and is migrated, the jobs table and its (purpose_code, created_at) and (file_key) indexes are valid, the storage root is reachable and a probe object under .lethe/doctor/ can be written, read and deleted, the bucket's versioning (S3), this host's clock against the database's, and the last 24 h of failed deletions by error code (on file storage, the directories they failed in: exists, writable, immutable). Exit 1 when any check fails",
    )
    .option(
      '--max-clock-skew <duration>',
      `largest tolerated clock difference with the database, e.g. 2s, 500ms (default ${DEFAULT_MAX_CLOCK_SKEW_MS / 1000}s)`,
    )
    .option('--json', 'print every check as JSON');
  addConnectionOptions(command, { storage: true }).action(async (flags: DoctorFlags) => {
    const maxClockSkewMs = flags.maxClockSkew === undefined ? DEFAULT_MAX_CLOCK_SKEW_MS : waitDurationMs('--max-clock-skew', flags.maxClockSkew);
    const report = await withEngine(ctx, flags, (engine) => runDoctor(engine, { maxClockSkewMs }));
    if (flags.json) printJson(ctx.io, report);
    else printLines(ctx.io, doctorLines(report, ctx.paint));
    ctx.setExit(report.ok ? ExitCode.OK : ExitCode.FAILURES);
  });
}

function markFor(status: string, paint: Palette): string {
  const mark = MARK[status] ?? status;
  return status === 'ok' ? paint.good(mark) : status === 'warn' ? paint.warn(mark) : status === 'fail' ? paint.bad(mark) : mark;
}

export function doctorLines(r: DoctorReport, paint: Palette = createPalette(false)): string[] {
  const width = Math.max(...r.checks.map((c) => c.name.length));
  return [
    `lethe doctor ${r.version} on ${r.host}; storage ${r.storage ?? '(none configured)'}`,
    ...r.checks.map((c) => `  ${markFor(c.status, paint)}  ${c.name.padEnd(width)}  ${c.message}`),
    r.ok
      ? r.warnings
        ? `No check failed, but ${r.warnings} warning${r.warnings === 1 ? '' : 's'} above need${r.warnings === 1 ? 's' : ''} attention.`
        : 'All checks passed.'
      : paint.bad(`${r.failed} check${r.failed === 1 ? '' : 's'} FAILED: a run would fail or misbehave until fixed.`),
  ];
}
