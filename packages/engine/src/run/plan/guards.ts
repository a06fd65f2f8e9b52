import type pg from 'pg';
import { AuditActions, writeAudit } from '../../db/tables/audit.js';
import { judgeBlastRadius, recentMedian, blastRadiusThreshold, type BlastRadiusCheck } from './blast-radius.js';
import { pause } from '../../db/tables/control.js';
import { ConfigError, ErrorCodes, LetheError } from '../../errors.js';
import { countExpiredCapped } from './counts.js';
import type { PurposeSelection } from '../source.js';
import type { JobsTable } from '../../db/jobs-table.js';
import type { ResolvedOptions } from '../../options.js';
import { overrideGroupRefusal, type GroupBlastRadius, type GroupInfo } from '../group.js';

/** Counting stops here when only a progress estimate is wanted. */
const ESTIMATE_CAP = 50_000_000;

export interface PreRunCheck {
  readonly blastRadius: BlastRadiusCheck | null;
  /** Expired rows this run should see (capped by --limit), or null when not counted. */
  readonly estimate: number | null;
}

interface CheckRequest {
  readonly dryRun: boolean;
  readonly allowLarge: boolean;
  readonly estimateTotal: boolean;
  readonly limit: number | undefined;
  /**
   * Pause Lethe when the guard refuses (default true: an unattended run that would erase too much
   * stops the schedule too). An operator's explicit catch-up passes false: the refusal is theirs
   * to read, and production's scheduled runs carry on.
   */
  readonly pauseOnRefusal?: boolean;
}

/**
 * Before a real run: the blast-radius guard (docs/safety.md#blast-radius-guard). A run that would erase more than the cap,
 * or more than K x the median of recent runs (above a floor), refuses to start and pauses Lethe
 * with the reason, unless `allowLarge`. The same count gives progress its total.
 */
export async function preRunCheck(
  pool: pg.Pool,
  options: ResolvedOptions,
  table: JobsTable,
  selected: readonly PurposeSelection[],
  cutoff: string,
  run: CheckRequest,
): Promise<PreRunCheck> {
  const measured = await measure(pool, options, table, selected, cutoff, run);
  const check = measured.blastRadius;
  if (check && !check.allowed && !run.allowLarge) {
    if (run.pauseOnRefusal === false) {
      await writeAudit(pool, AuditActions.BLAST_RADIUS_REFUSED, { ...check, cutoff, paused: false });
      throw new LetheError(
        ErrorCodes.BLAST_RADIUS,
        `blast-radius guard: ${check.reason}; Lethe was not paused. After checking \`lethe plan\`, rerun with --allow-large`,
      );
    }
    const reason = await refuse(pool, options, check, { cutoff });
    throw new LetheError(ErrorCodes.BLAST_RADIUS, `${reason}. Lethe is now paused: \`lethe resume\` then \`lethe run --allow-large\` to proceed`);
  }
  return measured;
}

async function measure(
  pool: pg.Pool,
  options: ResolvedOptions,
  table: JobsTable,
  selected: readonly PurposeSelection[],
  cutoff: string,
  run: CheckRequest,
): Promise<PreRunCheck> {
  const guarded = !run.dryRun;
  const limits = { maxDeletesPerRun: options.maxDeletesPerRun, factor: options.blastRadiusFactor, floor: options.blastRadiusFloor };
  const recent = guarded ? await recentMedian(pool) : { median: null, runs: 0 };
  const threshold = guarded ? blastRadiusThreshold(limits, recent.median) : null;
  if (threshold === null && !run.estimateTotal) return { blastRadius: null, estimate: null };
  // Count past the threshold (up to 10x) so a refusal can say how large the run would have been.
  const cap = run.estimateTotal ? ESTIMATE_CAP : Math.min(ESTIMATE_CAP, run.limit ?? Math.max(10_000, (threshold ?? ESTIMATE_CAP) * 10));
  const count = await countExpiredCapped(pool, table, selected, cutoff, cap);
  const wouldErase = Math.min(count.total, run.limit ?? count.total);
  // The guard's count is the run's expected count when it is exact (not capped, or capped past --limit):
  // progress then has a total and an ETA without a second count.
  const exact = !count.capped || (run.limit !== undefined && count.total >= run.limit);
  const estimate = run.estimateTotal || exact ? wouldErase : null;
  if (!guarded) return { blastRadius: null, estimate };
  const check = judgeBlastRadius(limits, wouldErase, count.capped && (run.limit === undefined || count.total < run.limit), recent);
  return { blastRadius: check, estimate };
}

/**
 * What the guard would say of a real run now, without refusing or pausing: a dry run's warning and
 * a backlog run's announcement (count first, then decide). Always counts (capped), so the caller
 * has the backlog's size whether or not a threshold applies.
 */
export async function previewBlastRadius(
  pool: pg.Pool,
  options: ResolvedOptions,
  table: JobsTable,
  selected: readonly PurposeSelection[],
  cutoff: string,
  limit: number | undefined,
): Promise<PreRunCheck> {
  return measure(pool, options, table, selected, cutoff, { dryRun: false, allowLarge: false, estimateTotal: true, limit });
}

/** The refusal: Lethe paused with the reason, and the audit row. Returns the reason. */
async function refuse(pool: pg.Pool, options: ResolvedOptions, check: BlastRadiusCheck, at: { cutoff: string; groupId?: string }): Promise<string> {
  const reason = `blast-radius guard: ${check.reason}; rerun with --allow-large (or the admin API's allowLarge) after checking the policies`;
  await pause(pool, { by: 'lethe:blast-radius-guard', reason }, options.notifier);
  await writeAudit(pool, AuditActions.BLAST_RADIUS_REFUSED, { ...check, cutoff: at.cutoff, ...(at.groupId ? { group_id: at.groupId } : {}) });
  options.logger.warn({ blastRadius: check, ...(at.groupId ? { group: at.groupId } : {}) }, 'run refused by the blast-radius guard; Lethe paused');
  return reason;
}

/**
 * A worker group is judged once, on its whole backlog, by the worker that creates it (called by
 * joinGroup while no other worker can join): the same count, refusal and pause as a solo run.
 */
export async function judgeGroupBlastRadius(
  pool: pg.Pool,
  options: ResolvedOptions,
  table: JobsTable,
  group: { readonly groupId: string; readonly cutoff: string; readonly selected: readonly PurposeSelection[]; readonly allowLarge: boolean },
): Promise<GroupBlastRadius> {
  const { blastRadius: check } = await measure(pool, options, table, group.selected, group.cutoff, {
    dryRun: false,
    allowLarge: group.allowLarge,
    estimateTotal: false,
    limit: undefined,
  });
  const purposes = group.selected.map((p) => p.purpose);
  if (check === null || check.allowed) return { decision: 'allowed', check, purposes };
  if (group.allowLarge) return { decision: 'allowed_large', check, purposes };
  await refuse(pool, options, check, { cutoff: group.cutoff, groupId: group.groupId });
  return { decision: 'refused', check, purposes };
}

/**
 * Every worker, the creator included, abides by the group's verdict: a refused group refuses its
 * workers (without counting or pausing again) until one started with allowLarge lifts it. Returns
 * the check the worker's summary reports.
 */
export async function admitToGroup(
  pool: pg.Pool,
  options: ResolvedOptions,
  group: GroupInfo,
  worker: { readonly selected: readonly PurposeSelection[]; readonly allowLarge: boolean },
): Promise<BlastRadiusCheck | null> {
  const id = JSON.stringify(group.groupId);
  const verdict = group.blastRadius;
  if (verdict === null) {
    throw new LetheError(
      ErrorCodes.BLAST_RADIUS,
      `group ${id} was started by an earlier Lethe that did not judge its blast radius; start a new group with a new id`,
    );
  }
  const outside = worker.selected.map((p) => p.purpose).filter((p) => !verdict.purposes.includes(p));
  if (outside.length > 0) {
    throw new ConfigError(
      `purpose: group ${id} was judged for ${verdict.purposes.map((p) => JSON.stringify(p)).join(', ')}; its workers may not take ${outside.map((p) => JSON.stringify(p)).join(', ')} (give every worker the same --purpose)`,
    );
  }
  if (verdict.decision !== 'refused') return verdict.check;
  if (group.created) {
    const reason = `blast-radius guard: ${verdict.check?.reason ?? 'refused'}; rerun with --allow-large after checking the policies`;
    throw new LetheError(
      ErrorCodes.BLAST_RADIUS,
      `${reason}. Lethe is now paused: \`lethe resume\` then \`lethe run --allow-large --group ${group.groupId}\` to proceed`,
    );
  }
  if (!worker.allowLarge) {
    throw new LetheError(
      ErrorCodes.BLAST_RADIUS,
      `group ${id} was refused by the blast-radius guard when it started (${verdict.check?.reason ?? 'no reason recorded'}); after checking the policies, \`lethe resume\` if paused, then start its workers with --allow-large (or start a new group)`,
    );
  }
  options.logger.warn({ group: group.groupId, blastRadius: verdict.check }, 'group refused by the blast-radius guard; proceeding with --allow-large');
  return (await overrideGroupRefusal(pool, group.groupId, verdict)).check;
}
