import { randomUUID } from 'node:crypto';
import { writeAudit } from '../audit.js';
import { readControl } from '../control.js';
import type { Queryable } from '../db.js';
import type { Engine } from '../engine.js';
import { ConfigError, ErrorCodes, LetheError } from '../errors.js';
import { inspectJobsTable, type JobsTable } from '../jobs-table.js';
import { ledgerKeyFunction } from '../ledger-keys.js';
import { loadCurrentPolicies } from '../policy-store.js';
import type { ObjectInfo, StoragePort } from '../ports.js';
import { acquireRunLock } from '../run-lock.js';
import { databaseNow, policySelections } from './plan.js';
import { orphanFileBatches, orphanRowBatches, type OrphanRow, type ScanContext } from './reconcile-scan.js';
import { RECONCILE_CODE_PREFIX } from './report.js';

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
 */

export const ReconcileLedgerCodes = {
  ORPHAN_FILE: `${RECONCILE_CODE_PREFIX}ORPHAN_FILE`,
  ORPHAN_ROW: `${RECONCILE_CODE_PREFIX}ORPHAN_ROW`,
} as const;

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
  readonly orphans: number;
  /** orphans / checked. */
  readonly share: number;
  readonly samples: readonly S[];
}

export interface OrphanFileSample { readonly file_key: string; readonly size: number; readonly modified_at: string }
export interface OrphanRowSample { readonly job_id: string; readonly file_key: string; readonly purpose: string | null; readonly created_at: string }

export interface ReconcileActions {
  readonly files_erased: number;
  readonly files_absent: number;
  readonly files_failed: number;
  readonly rows_removed: number;
  readonly failures: readonly { readonly file_key: string; readonly code: string; readonly message: string }[];
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
  const storage = engine.storage();
  const id = randomUUID();
  if (!o.apply) return finish(id, false, await survey(engine, storage, o, minAgeMs), maxShare, null);
  const lock = await acquireRunLock(engine.pool, { waitMs: 0, clock: engine.options.clock });
  try {
    const control = await readControl(engine.pool);
    if (control.paused) {
      throw new LetheError(ErrorCodes.PAUSED, `Lethe is paused (by ${control.pausedBy ?? 'unknown'}: ${control.reason ?? 'no reason given'}); reconcile --apply deletes, so it waits for \`lethe resume\``);
    }
    const plan = await survey(engine, storage, o, minAgeMs);
    const refusal = reconcileRefusal(plan, maxShare);
    const actions = refusal === null ? await act(engine, plan.ctx, id) : null;
    const report = finish(id, true, plan, maxShare, actions);
    await writeAudit(engine.pool, refusal === null ? 'cleanup_reconcile' : 'cleanup_reconcile_refused', {
      reconcile_id: id, by: o.by, status: report.status, refused_reason: report.refused_reason,
      min_age_seconds: report.min_age_seconds, max_orphan_share: maxShare, storage: storage.describe,
      files: { checked: plan.files.checked, orphans: plan.files.orphans }, rows: { checked: plan.rows.checked, orphans: plan.rows.orphans },
      ...(actions ? { actions } : {}),
    });
    return report;
  } finally {
    await lock.release();
  }
}

/** The first pass: counts and samples, no change anywhere. */
async function survey(engine: Engine, storage: StoragePort, o: ReconcileOptions, minAgeMs: number): Promise<Plan> {
  const table = await inspectJobsTable(engine.pool, engine.options.jobs);
  const ctx: ScanContext = {
    pool: engine.pool, table, storage, now: await databaseNow(engine.pool), minAgeMs,
    batchSize: engine.options.batchSize, concurrency: o.concurrency ?? 32, ledgerKey: ledgerKeyFunction(engine.options.ledgerKeyHmacSecret),
    ...(o.prefix ? { prefix: o.prefix } : {}), ...(o.signal ? { signal: o.signal } : {}),
  };
  const maxSamples = o.maxSamples ?? 20;
  const files = { checked: 0, skipped: 0, orphans: 0, samples: [] as OrphanFileSample[] };
  for await (const b of orphanFileBatches(ctx)) {
    files.checked += b.old;
    files.skipped += b.young;
    files.orphans += b.orphans.length;
    for (const f of b.orphans.slice(0, maxSamples - files.samples.length)) files.samples.push(fileSample(f));
  }
  const rows = { checked: 0, skipped: 0, orphans: 0, samples: [] as OrphanRowSample[] };
  for await (const b of orphanRowBatches(ctx)) {
    rows.checked += b.checked - b.unverifiable;
    rows.skipped += b.unverifiable;
    rows.orphans += b.orphans.length;
    for (const r of b.orphans.slice(0, maxSamples - rows.samples.length)) rows.samples.push(rowSample(r));
  }
  return { ctx, files: { ...files, share: share(files) }, rows: { ...rows, share: share(rows) } };
}

const share = (s: { checked: number; orphans: number }): number => (s.checked === 0 ? 0 : s.orphans / s.checked);
const percent = (x: number): string => `${Math.round(x * 1000) / 10}%`;

/** DESIGN "Reconcile is guarded": too large a share orphaned means the view is wrong, not the data. */
export function reconcileRefusal(plan: Pick<Plan, 'files' | 'rows'>, maxShare: number): string | null {
  const reasons: string[] = [];
  const { files, rows } = plan;
  if (files.share > maxShare) {
    reasons.push(`${files.orphans} of ${files.checked} files (${percent(files.share)}) have no row and no ledger entry: is the storage URL or prefix the platform's, and the jobs table the right one?`);
  }
  if (rows.share > maxShare) {
    reasons.push(`${rows.orphans} of ${rows.checked} rows (${percent(rows.share)}) have no file: is the storage mounted and the URL right?`);
  }
  if (reasons.length === 0) return null;
  return `more than ${percent(maxShare)} look orphaned, which looks like a wrong view of storage rather than drift; nothing was changed. ${reasons.join(' ')} If this is real, raise the limit (--max-orphan-share).`;
}

function finish(id: string, apply: boolean, plan: Plan, maxShare: number, actions: ReconcileActions | null): ReconcileReport {
  const refusal = reconcileRefusal(plan, maxShare);
  const clean = plan.files.orphans === 0 && plan.rows.orphans === 0;
  return {
    reconcile_id: id, apply,
    status: refusal !== null ? 'refused' : clean ? 'clean' : apply ? 'applied' : 'dry_run',
    refused_reason: refusal,
    checked_at: plan.ctx.now, storage: plan.ctx.storage.describe,
    min_age_seconds: Math.round(plan.ctx.minAgeMs / 1000), max_orphan_share: maxShare,
    files: plan.files, rows: plan.rows, actions,
  };
}

/** The second pass: rescan, and act on each batch as it is found (storage first, then the ledger). */
async function act(engine: Engine, ctx: ScanContext, id: string): Promise<ReconcileActions> {
  const policy = await loadCurrentPolicies(engine.pool);
  const a = { files_erased: 0, files_absent: 0, files_failed: 0, rows_removed: 0, failures: [] as { file_key: string; code: string; message: string }[] };
  for await (const b of orphanFileBatches(ctx)) {
    if (b.orphans.length === 0) continue;
    const outcomes = await ctx.storage.deleteMany(b.orphans.map((f) => f.key));
    await recordFileActions(engine.pool, ctx, id, policy.version, b.orphans, outcomes);
    for (const out of outcomes) {
      if (out.outcome === 'erased') a.files_erased++;
      else if (out.outcome === 'absent') a.files_absent++;
      else {
        a.files_failed++;
        if (a.failures.length < 20) a.failures.push({ file_key: out.key, code: out.code ?? 'UNKNOWN', message: out.message ?? '' });
      }
    }
  }
  const selections = policySelections(policy.policies);
  for await (const b of orphanRowBatches(ctx)) {
    if (b.orphans.length > 0) a.rows_removed += await removeOrphanRows(engine.pool, ctx, id, policy.version, b.orphans, selections, engine.options.ledgerKeyHmacSecret !== null);
  }
  return a;
}

async function recordFileActions(db: Queryable, ctx: ScanContext, id: string, version: number, files: readonly ObjectInfo[], outcomes: readonly { key: string; outcome: string; code?: string; message?: string }[]): Promise<void> {
  await db.query(
    `INSERT INTO lethe_ledger (run_id, job_id, file_key, purpose_code, created_at, expires_at, outcome, error_code, error, policy_version, job_row)
     SELECT $1::uuid, '', x.k, NULL, to_timestamp(x.m / 1000), NULL, x.o, '${ReconcileLedgerCodes.ORPHAN_FILE}', x.e, $2::integer,
            jsonb_build_object('reconcile', 'orphan_file', 'size', x.s)
       FROM unnest($3::text[], $4::float8[], $5::text[], $6::text[], $7::bigint[]) AS x(k, m, o, e, s)`,
    [id, version, files.map((f) => ctx.ledgerKey(f.key)), files.map((f) => f.modifiedMs), outcomes.map((o) => o.outcome),
      outcomes.map((o) => (o.outcome === 'erased' || o.outcome === 'absent' ? 'reconcile: orphan file (no jobs row, no ledger entry)' : `reconcile: ${o.code ?? 'UNKNOWN'}: ${o.message ?? ''}`.slice(0, 500))),
      files.map((f) => f.size)],
  );
}

/**
 * One statement: delete the rows (still old enough) and write their ledger rows with their content
 * (without the file key in HMAC mode, as the run's outcome writer does).
 */
async function removeOrphanRows(db: Queryable, ctx: ScanContext, id: string, version: number, rows: readonly OrphanRow[], selections: readonly { purpose: string; interval: string }[], hashed: boolean): Promise<number> {
  const t: JobsTable = ctx.table;
  const { rowCount } = await db.query(
    `WITH d AS (
       DELETE FROM ${t.table} j
        WHERE j.${t.id} = ANY($3::${t.idType}[])
          AND j.${t.createdAt} < ${t.toColumnTime(`$4::timestamptz - $5::bigint * interval '1 millisecond'`)}
       RETURNING j.${t.id}::text AS job_id, j.${t.fileKey}::text AS file_key, j.${t.purpose}::text AS purpose,
                 extract(epoch FROM j.${t.createdAt}) AS created_s, ${hashed ? `to_jsonb(j) - '${t.names.fileKey}'` : 'to_jsonb(j)'} AS job_row)
     INSERT INTO lethe_ledger (run_id, job_id, file_key, purpose_code, created_at, expires_at, outcome, error_code, error, policy_version, job_row)
     SELECT $1::uuid, d.job_id, coalesce(k.lk, d.file_key), d.purpose, to_timestamp(d.created_s),
            ((to_timestamp(d.created_s) AT TIME ZONE 'UTC') + p.iv) AT TIME ZONE 'UTC',
            'absent', '${ReconcileLedgerCodes.ORPHAN_ROW}', 'reconcile: orphan row (its file was not in storage)', $2::integer, d.job_row
       FROM d LEFT JOIN unnest($6::text[], $7::interval[]) AS p(purpose, iv) ON p.purpose = d.purpose
              LEFT JOIN unnest($8::text[], $9::text[]) AS k(key, lk) ON k.key = d.file_key`,
    [id, version, rows.map((r) => r.id), ctx.now, Math.round(ctx.minAgeMs), selections.map((s) => s.purpose), selections.map((s) => s.interval),
      ...distinctLedgerKeys(ctx, rows)],
  );
  return rowCount ?? 0;
}

/** [keys, their ledger form], each key once (two rows may share a key: one join row each). */
function distinctLedgerKeys(ctx: ScanContext, rows: readonly OrphanRow[]): [string[], string[]] {
  const keys = [...new Set(rows.map((r) => r.fileKey))];
  return [keys, keys.map(ctx.ledgerKey)];
}

function fileSample(f: ObjectInfo): OrphanFileSample {
  return { file_key: f.key, size: f.size, modified_at: new Date(f.modifiedMs).toISOString() };
}

function rowSample(r: OrphanRow): OrphanRowSample {
  return { job_id: r.id, file_key: r.fileKey, purpose: r.purpose, created_at: new Date(r.createdAtMs).toISOString() };
}
