import type pg from 'pg';
import { AuditActions, writeAudit } from './audit.js';
import { judgeBlastRadius, recentMedian, blastRadiusThreshold, type BlastRadiusCheck } from './blast-radius.js';
import { pause } from './control.js';
import { ErrorCodes, LetheError } from './errors.js';
import { countExpired } from './expired-count.js';
import type { PurposeSelection } from './expired-rows.js';
import type { JobsTable } from './jobs-table.js';
import type { ResolvedOptions } from './options.js';

/** Counting stops here when only a progress estimate is wanted. */
const ESTIMATE_CAP = 50_000_000;

export interface PreRunCheck {
  readonly blastRadius: BlastRadiusCheck | null;
  /** Expired rows this run should see (capped by --limit), or null when not counted. */
  readonly estimate: number | null;
}

/**
 * Before a real run: the blast-radius guard (issue 7). A run that would erase more than the cap,
 * or more than K x the median of recent runs (above a floor), refuses to start and pauses Lethe
 * with the reason, unless `allowLarge`. The same count gives progress its total.
 */
export async function preRunCheck(
  pool: pg.Pool,
  options: ResolvedOptions,
  table: JobsTable,
  selected: readonly PurposeSelection[],
  cutoff: string,
  run: { dryRun: boolean; allowLarge: boolean; estimateTotal: boolean; limit: number | undefined },
): Promise<PreRunCheck> {
  const guarded = !run.dryRun;
  const recent = guarded ? await recentMedian(pool) : { median: null, runs: 0 };
  const threshold = guarded ? blastRadiusThreshold({ maxDeletesPerRun: options.maxDeletesPerRun, factor: options.blastRadiusFactor, floor: options.blastRadiusFloor }, recent.median) : null;
  if (threshold === null && !run.estimateTotal) return { blastRadius: null, estimate: null };
  // Count past the threshold (up to 10x) so a refusal can say how large the run would have been.
  const cap = run.estimateTotal ? ESTIMATE_CAP : Math.min(ESTIMATE_CAP, run.limit ?? Math.max(10_000, (threshold ?? ESTIMATE_CAP) * 10));
  const count = await countExpired(pool, table, selected, cutoff, cap);
  const wouldErase = Math.min(count.total, run.limit ?? count.total);
  const estimate = run.estimateTotal ? wouldErase : null;
  if (!guarded) return { blastRadius: null, estimate };
  const check = judgeBlastRadius(
    { maxDeletesPerRun: options.maxDeletesPerRun, factor: options.blastRadiusFactor, floor: options.blastRadiusFloor },
    wouldErase,
    count.capped && (run.limit === undefined || count.total < run.limit),
    recent,
  );
  if (!check.allowed && !run.allowLarge) {
    const reason = `blast-radius guard: ${check.reason}; rerun with --allow-large (or the admin API's allowLarge) after checking the policies`;
    await pause(pool, { by: 'lethe:blast-radius-guard', reason }, options.notifier);
    await writeAudit(pool, AuditActions.BLAST_RADIUS_REFUSED, { ...check, cutoff });
    options.logger.warn({ blastRadius: check }, 'run refused by the blast-radius guard; Lethe paused');
    throw new LetheError(ErrorCodes.BLAST_RADIUS, `${reason}. Lethe is now paused: \`lethe resume\` then \`lethe run --allow-large\` to proceed`);
  }
  return { blastRadius: check, estimate };
}
