import { randomUUID } from 'node:crypto';
import { writeAudit } from '../db/tables/audit.js';
import { readControl } from '../db/tables/control.js';
import type { Engine } from '../engine.js';
import { ConfigError, ErrorCodes, LetheError, type ErrorCode } from '../errors.js';
import { inspectJobsTable } from '../db/jobs-table.js';
import { ledgerKeyFunction } from '../policy/ledger-keys.js';
import type { ObjectInfo, StoragePort } from '../ports.js';
import { acquireRunLock } from '../run/lock.js';
import { databaseNow } from './plan.js';
import { actOnOrphans, type ReconcileActions } from './reconcile-act.js';
import { countYoungRows, orphanFileBatches, orphanRowBatches, prefixProblem, type OrphanRow, type ScanContext } from './reconcile-scan.js';

export { ReconcileLedgerCodes } from './reconcile-act.js';
export type { ReconcileActions } from './reconcile-act.js';
export { prefixProblem as reconcilePrefixProblem } from './reconcile-scan.js';

/**
 * `lethe reconcile` (runbook FM-005, replacing its `DELETE ... NOT EXISTS (SELECT 1 FROM storage)`):
 * orphan files (in storage, no row, no ledger entry) and orphan rows (row, no file), both older
 * than a minimum age. A dry run by default. DESIGN "Reconcile is guarded": when more than a small
 * share of the files or rows look orphaned, that is a wrong prefix or an empty mount, not drift,
 * and reconcile refuses to act. `apply` holds the run lock (no run interleaves), refuses while
 * paused, rescans (acting on what it sees now, not on the first pass), and records every action:
 * one ledger row per file erased or row removed (run_id = the reconcile's id, error_code
 * `LETHE_RECONCILE_ORPHAN_FILE` / `_ORPHAN_ROW`, job_id '' for files that had no row) and one
 * `audit_logs` row (`cleanup_reconcile`) with the counts.
 *
 * Legal holds (docs/safety.md#legal-holds): a file or row that would be an orphan but whose key is under an active
 * hold is reported as held (`held`, `held_samples`) and never touched; apply checks the holds
 * again under a lock as it acts on each batch (reconcile-act.ts). A `prefix` that could name a
 * place outside the storage root (`..`, absolute, `a//b`, NUL) is refused before anything is
 * listed (`LETHE_E_KEY_OUTSIDE_ROOT` / `LETHE_E_KEY_INVALID`, a ConfigError: the CLI exits 2).
 */

export const DEFAULT_RECONCILE_MIN_AGE_MS = 86_400_000;
export const DEFAULT_MAX_ORPHAN_SHARE = 0.05;

export interface ReconcileOptions {
  /** Act (default: report only). */
  readonly apply?: boolean;
  /** Who asked, for the audit row. */
  readonly by: string;
  /** Files and rows newer than this are never orphans (default 24 h). */
  readonly minAgeMs?: number;
  /** Refuse when more than this fraction of files or rows look orphaned (default 0.05). */
  readonly maxOrphanShare?: number;
  /** Only list storage under this sub-prefix. */
  readonly prefix?: string;
  readonly concurrency?: number;
  readonly maxSamples?: number;
  readonly signal?: AbortSignal;
}

export interface ReconcileSide<S> {
  /** Files listed / rows looked at, older than the minimum age. */
  readonly checked: number;
  /** Newer than the minimum age (files), or not checkable (rows). */
  readonly skipped: number;
  /** Not known to the jobs table and the ledger (files) or missing from storage (rows), and not held. */
  readonly orphans: number;
  /**
   * Everything listed (files) or in the table (rows), the minimum age notwithstanding: checked +
   * skipped, plus the rows newer than the minimum age.
   */
  readonly looked_at: number;
  /**
   * orphans / looked_at: the share of all it looked at, not of those past the minimum age (15
   * orphans among 1,650 files is 0.9%, not "15 of 15, 100%" because 1,635 were young).
   */
  readonly share: number;
  readonly samples: readonly S[];
  /** Would be orphans, but their key is under an active legal hold: reported, never touched. */
  readonly held: number;
  readonly held_samples: readonly S[];
}

export interface OrphanFileSample {
  readonly file_key: string;
  readonly size: number;
  readonly modified_at: string;
}
export interface OrphanRowSample {
  readonly job_id: string;
  readonly file_key: string;
  readonly purpose: string | null;
  readonly created_at: string;
}

export type ReconcileStatus = 'clean' | 'dry_run' | 'applied' | 'refused';

export interface ReconcileReport {
  readonly reconcile_id: string;
  readonly apply: boolean;
  readonly status: ReconcileStatus;
  /** Why reconcile refused to act (status `refused`). */
  readonly refused_reason: string | null;
  readonly checked_at: string;
  readonly storage: string;
  readonly min_age_seconds: number;
  readonly max_orphan_share: number;
  readonly files: ReconcileSide<OrphanFileSample>;
  readonly rows: ReconcileSide<OrphanRowSample>;
  /** What apply did (null for a dry run or a refusal). */
  readonly actions: ReconcileActions | null;
}

interface Plan {
  readonly ctx: ScanContext;
  readonly files: ReconcileSide<OrphanFileSample>;
  readonly rows: ReconcileSide<OrphanRowSample>;
}

export async function reconcile(engine: Engine, o: ReconcileOptions): Promise<ReconcileReport> {
  const minAgeMs = o.minAgeMs ?? DEFAULT_RECONCILE_MIN_AGE_MS;
  const maxShare = o.maxOrphanShare ?? DEFAULT_MAX_ORPHAN_SHARE;
  if (!Number.isFinite(minAgeMs) || minAgeMs < 0) throw new ConfigError(`minAge: expected a duration of zero or more, got ${JSON.stringify(o.minAgeMs)}`);
  if (!(maxShare >= 0 && maxShare <= 1)) throw new ConfigError(`maxOrphanShare: expected a fraction from 0 to 1, got ${JSON.stringify(o.maxOrphanShare)}`);
  if (o.apply && (typeof o.by !== 'string' || o.by.trim() === '')) throw new ConfigError('by: reconcile --apply needs the identity of who asked');
  checkPrefix(o.prefix);
  const storage = engine.storage();
  const id = randomUUID();
  if (!o.apply) return finish(id, false, await survey(engine, storage, o, minAgeMs), maxShare, null);
  const lock = await acquireRunLock(engine.pool, { waitMs: 0, clock: engine.options.clock });
  try {
    const control = await readControl(engine.pool);
    if (control.paused) {
      throw new LetheError(
        ErrorCodes.PAUSED,
        `Lethe is paused (by ${control.pausedBy ?? 'unknown'}: ${control.reason ?? 'no reason given'}); reconcile --apply deletes, so it waits for \`lethe resume\``,
      );
    }
    const plan = await survey(engine, storage, o, minAgeMs);
    const refusal = reconcileRefusal(plan, maxShare);
    const actions = refusal === null ? await actOnOrphans(engine, plan.ctx, id) : null;
    const report = finish(id, true, plan, maxShare, actions);
    await writeAudit(engine.pool, refusal === null ? 'cleanup_reconcile' : 'cleanup_reconcile_refused', {
      reconcile_id: id,
      by: o.by,
      status: report.status,
      refused_reason: report.refused_reason,
      min_age_seconds: report.min_age_seconds,
      max_orphan_share: maxShare,
      storage: storage.describe,
      files: { checked: plan.files.checked, orphans: plan.files.orphans, held: plan.files.held },
      rows: { checked: plan.rows.checked, orphans: plan.rows.orphans, held: plan.rows.held },
      ...(actions ? { actions } : {}),
    });
    return report;
  } finally {
    await lock.release();
  }
}

/** DESIGN invariant 4 for the listing: the prefix is a safe relative key, or nothing is listed. */
function checkPrefix(prefix: string | undefined): void {
  if (prefix === undefined || prefix === '') return;
  const problem = prefixProblem(prefix);
  if (problem !== null) throw new ConfigError(`prefix: ${problem.message}`, problem.code as ErrorCode);
}

/** The first pass: counts and samples, no change anywhere. */
async function survey(engine: Engine, storage: StoragePort, o: ReconcileOptions, minAgeMs: number): Promise<Plan> {
  const table = await inspectJobsTable(engine.pool, engine.options.jobs);
  const ctx: ScanContext = {
    pool: engine.pool,
    table,
    storage,
    now: await databaseNow(engine.pool),
    minAgeMs,
    batchSize: engine.options.batchSize,
    concurrency: o.concurrency ?? 32,
    ledgerKey: ledgerKeyFunction(engine.options.ledgerKeyHmacSecret),
    ...(o.prefix ? { prefix: o.prefix } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  };
  const maxSamples = o.maxSamples ?? 20;
  const files = { checked: 0, skipped: 0, orphans: 0, samples: [] as OrphanFileSample[], held: 0, held_samples: [] as OrphanFileSample[] };
  for await (const b of orphanFileBatches(ctx)) {
    files.checked += b.old;
    files.skipped += b.young;
    files.orphans += b.orphans.length;
    files.held += b.held.length;
    for (const f of b.orphans.slice(0, maxSamples - files.samples.length)) files.samples.push(fileSample(f));
    for (const f of b.held.slice(0, maxSamples - files.held_samples.length)) files.held_samples.push(fileSample(f));
  }
  const rows = { checked: 0, skipped: 0, orphans: 0, samples: [] as OrphanRowSample[], held: 0, held_samples: [] as OrphanRowSample[] };
  for await (const b of orphanRowBatches(ctx)) {
    rows.checked += b.checked - b.unverifiable;
    rows.skipped += b.unverifiable;
    rows.orphans += b.orphans.length;
    rows.held += b.held.length;
    for (const r of b.orphans.slice(0, maxSamples - rows.samples.length)) rows.samples.push(rowSample(r));
    for (const r of b.held.slice(0, maxSamples - rows.held_samples.length)) rows.held_samples.push(rowSample(r));
  }
  const filesSeen = files.checked + files.skipped;
  const rowsSeen = rows.checked + rows.skipped + (await countYoungRows(ctx));
  return {
    ctx,
    files: { ...files, looked_at: filesSeen, share: share(files.orphans, filesSeen) },
    rows: { ...rows, looked_at: rowsSeen, share: share(rows.orphans, rowsSeen) },
  };
}

const share = (orphans: number, lookedAt: number): number => (lookedAt === 0 ? 0 : orphans / lookedAt);
const percent = (x: number): string => `${Math.round(x * 1000) / 10}%`;

/** DESIGN "Reconcile is guarded": too large a share orphaned means the view is wrong, not the data. */
export function reconcileRefusal(plan: Pick<Plan, 'files' | 'rows'>, maxShare: number): string | null {
  const reasons: string[] = [];
  const { files, rows } = plan;
  if (files.share > maxShare) {
    reasons.push(
      `${files.orphans} of ${files.looked_at} files (${percent(files.share)}) have no row and no ledger entry: is the storage URL or prefix the platform's, and the jobs table the right one?`,
    );
  }
  if (rows.share > maxShare) {
    reasons.push(`${rows.orphans} of ${rows.looked_at} rows (${percent(rows.share)}) have no file: is the storage mounted and the URL right?`);
  }
  if (reasons.length === 0) return null;
  return `more than ${percent(maxShare)} look orphaned, which looks like a wrong view of storage rather than drift; nothing was changed. ${reasons.join(' ')} If this is real, raise the limit (--max-orphan-share).`;
}

function finish(id: string, apply: boolean, plan: Plan, maxShare: number, actions: ReconcileActions | null): ReconcileReport {
  const refusal = reconcileRefusal(plan, maxShare);
  const clean = plan.files.orphans === 0 && plan.rows.orphans === 0;
  return {
    reconcile_id: id,
    apply,
    status: refusal !== null ? 'refused' : clean ? 'clean' : apply ? 'applied' : 'dry_run',
    refused_reason: refusal,
    checked_at: plan.ctx.now,
    storage: plan.ctx.storage.describe,
    min_age_seconds: Math.round(plan.ctx.minAgeMs / 1000),
    max_orphan_share: maxShare,
    files: plan.files,
    rows: plan.rows,
    actions,
  };
}

function fileSample(f: ObjectInfo): OrphanFileSample {
  return { file_key: f.key, size: f.size, modified_at: new Date(f.modifiedMs).toISOString() };
}

function rowSample(r: OrphanRow): OrphanRowSample {
  return { job_id: r.id, file_key: r.fileKey, purpose: r.purpose, created_at: new Date(r.createdAtMs).toISOString() };
}
