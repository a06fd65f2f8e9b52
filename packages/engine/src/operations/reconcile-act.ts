import { withTransaction, type Queryable } from '../db/pool.js';
import type { Engine } from '../engine.js';
import type { JobsTable } from '../db/jobs-table.js';
import { loadCurrentPolicies } from '../db/tables/policy-versions.js';
import type { KeyOutcome, ObjectInfo } from '../ports.js';
import { heldKeysNow, lockHolds, withHoldsLocked } from '../run/keep/hold-guard.js';
import { policySelections } from './plan.js';
import { orphanFileBatches, orphanRowBatches, type OrphanRow, type ScanContext } from './reconcile-scan.js';
import { RECONCILE_CODE_PREFIX } from './report.js';
import { ledgerInsertSql } from '../db/tables/ledger-chain.js';

/**
 * What `lethe reconcile --apply` does once it has decided to act (the second pass): rescan, and act
 * on each batch as it is found, storage first, then the ledger. Each batch's legal holds are read
 * again under `withHoldsLocked`, so a hold placed after the scan still keeps its file or row.
 */

export const ReconcileLedgerCodes = {
  ORPHAN_FILE: `${RECONCILE_CODE_PREFIX}ORPHAN_FILE`,
  ORPHAN_ROW: `${RECONCILE_CODE_PREFIX}ORPHAN_ROW`,
} as const;

export interface ReconcileActions {
  readonly files_erased: number;
  readonly files_absent: number;
  readonly files_failed: number;
  /** Orphan-looking files kept because their key is under an active legal hold. */
  readonly files_held: number;
  readonly rows_removed: number;
  /** Orphan-looking rows kept because their key is under an active legal hold. */
  readonly rows_held: number;
  readonly failures: readonly { readonly file_key: string; readonly code: string; readonly message: string }[];
}

/** The reconcile's identity and policy version, as every ledger row it writes carries them. */
export interface ActContext {
  readonly scan: ScanContext;
  readonly reconcileId: string;
  readonly policyVersion: number;
}

export async function actOnOrphans(engine: Engine, scan: ScanContext, reconcileId: string): Promise<ReconcileActions> {
  const policy = await loadCurrentPolicies(engine.pool);
  const ctx: ActContext = { scan, reconcileId, policyVersion: policy.version };
  const a = {
    files_erased: 0,
    files_absent: 0,
    files_failed: 0,
    files_held: 0,
    rows_removed: 0,
    rows_held: 0,
    failures: [] as { file_key: string; code: string; message: string }[],
  };
  for await (const b of orphanFileBatches(scan)) {
    a.files_held += b.held.length;
    if (b.orphans.length === 0) continue;
    const done = await eraseOrphanFiles(ctx, b.orphans);
    a.files_held += done.held.length;
    for (const out of done.outcomes) {
      if (out.outcome === 'erased') a.files_erased++;
      else if (out.outcome === 'absent') a.files_absent++;
      else {
        a.files_failed++;
        if (a.failures.length < 20) a.failures.push({ file_key: out.key, code: out.code ?? 'UNKNOWN', message: out.message ?? '' });
      }
    }
  }
  const selections = policySelections(policy.policies);
  const hashed = engine.options.ledgerKeyHmacSecret !== null;
  for await (const b of orphanRowBatches(scan)) {
    a.rows_held += b.held.length;
    if (b.orphans.length === 0) continue;
    const done = await removeOrphanRows(ctx, b.orphans, selections, hashed);
    a.rows_removed += done.removed;
    a.rows_held += done.held.length;
  }
  return a;
}

/**
 * Deletes one batch of orphan files, except those whose key has come under a hold since the scan:
 * the hold check and the deletes happen under the holds lock (no hold placed in between). The
 * ledger rows are written after the lock is released: by then the files are gone.
 */
export async function eraseOrphanFiles(
  ctx: ActContext,
  files: readonly ObjectInfo[],
): Promise<{ outcomes: readonly KeyOutcome[]; held: readonly ObjectInfo[] }> {
  const { scan } = ctx;
  const { unheld, held, outcomes } = await withHoldsLocked(scan.pool, async (db) => {
    const heldNow = await heldKeysNow(
      db,
      files.map((f) => f.key),
    );
    const unheld = files.filter((f) => !heldNow.has(f.key));
    const outcomes = unheld.length === 0 ? [] : await scan.storage.deleteMany(unheld.map((f) => f.key));
    return { unheld, held: files.filter((f) => heldNow.has(f.key)), outcomes };
  });
  if (unheld.length > 0) await recordFileActions(scan.pool, ctx, unheld, outcomes);
  return { outcomes, held };
}

async function recordFileActions(db: Queryable, ctx: ActContext, files: readonly ObjectInfo[], outcomes: readonly KeyOutcome[]): Promise<void> {
  const byKey = new Map(outcomes.map((o) => [o.key, o]));
  const outcomeOf = (f: ObjectInfo): KeyOutcome =>
    byKey.get(f.key) ?? { key: f.key, outcome: 'failed', code: 'UNKNOWN', message: 'no outcome from storage', retryable: false };
  await db.query(
    ledgerInsertSql({
      columns: 'run_id, job_id, file_key, purpose_code, created_at, expires_at, outcome, error_code, error, policy_version, job_row',
      select: `SELECT $1::uuid, ''::text, x.k, NULL::text, to_timestamp(x.m / 1000), NULL::timestamptz, x.o, '${ReconcileLedgerCodes.ORPHAN_FILE}'::text, x.e, $2::integer,
            jsonb_build_object('reconcile', 'orphan_file', 'size', x.s)
       FROM unnest($3::text[], $4::float8[], $5::text[], $6::text[], $7::bigint[]) AS x(k, m, o, e, s)`,
    }),
    [
      ctx.reconcileId,
      ctx.policyVersion,
      files.map((f) => ctx.scan.ledgerKey(f.key)),
      files.map((f) => f.modifiedMs),
      files.map((f) => outcomeOf(f).outcome),
      files.map((f) => {
        const o = outcomeOf(f);
        return o.outcome === 'erased' || o.outcome === 'absent'
          ? 'reconcile: orphan file (no jobs row, no ledger entry)'
          : `reconcile: ${o.code ?? 'UNKNOWN'}: ${o.message ?? ''}`.slice(0, 500);
      }),
      files.map((f) => f.size),
    ],
  );
}

/**
 * One statement, under the holds lock: delete the rows (still old enough, key not held now) and
 * write their ledger rows with their content (without the file key in HMAC mode, as the run's
 * outcome writer does). The rows are locked before the holds (see `lockHolds`): a `placeHold`
 * that locked one of them first is waited for, and its hold is then seen.
 */
export async function removeOrphanRows(
  ctx: ActContext,
  rows: readonly OrphanRow[],
  selections: readonly { purpose: string; interval: string }[],
  hashed: boolean,
): Promise<{ removed: number; held: readonly OrphanRow[] }> {
  const t: JobsTable = ctx.scan.table;
  return withTransaction(ctx.scan.pool, async (db) => {
    await db.query(`SELECT 1 FROM ${t.table} j WHERE j.${t.id} = ANY($1::${t.idType}[]) ORDER BY j.${t.id} FOR UPDATE OF j`, [rows.map((r) => r.id)]);
    await lockHolds(db);
    const heldNow = await heldKeysNow(
      db,
      rows.map((r) => r.fileKey),
    );
    const unheld = rows.filter((r) => !heldNow.has(r.fileKey));
    const held = rows.filter((r) => heldNow.has(r.fileKey));
    if (unheld.length === 0) return { removed: 0, held };
    const { rowCount } = await db.query(
      ledgerInsertSql({
        with: `d AS (
         DELETE FROM ${t.table} j
          WHERE j.${t.id} = ANY($3::${t.idType}[])
            AND j.${t.fileKey}::text <> ALL($10::text[])
            AND j.${t.createdAt} < ${t.toColumnTime(`$4::timestamptz - $5::bigint * interval '1 millisecond'`)}
         RETURNING j.${t.id}::text AS job_id, j.${t.fileKey}::text AS file_key, j.${t.purpose}::text AS purpose,
                   extract(epoch FROM j.${t.createdAt}) AS created_s, ${hashed ? `to_jsonb(j) - '${t.names.fileKey}'` : 'to_jsonb(j)'} AS job_row)`,
        columns: 'run_id, job_id, file_key, purpose_code, created_at, expires_at, outcome, error_code, error, policy_version, job_row',
        select: `SELECT $1::uuid, d.job_id, coalesce(k.lk, d.file_key), d.purpose, to_timestamp(d.created_s),
              ((to_timestamp(d.created_s) AT TIME ZONE 'UTC') + p.iv) AT TIME ZONE 'UTC',
              'absent'::text, '${ReconcileLedgerCodes.ORPHAN_ROW}'::text, 'reconcile: orphan row (its file was not in storage)'::text, $2::integer, d.job_row
         FROM d LEFT JOIN unnest($6::text[], $7::interval[]) AS p(purpose, iv) ON p.purpose = d.purpose
                LEFT JOIN unnest($8::text[], $9::text[]) AS k(key, lk) ON k.key = d.file_key`,
      }),
      [
        ctx.reconcileId,
        ctx.policyVersion,
        unheld.map((r) => r.id),
        ctx.scan.now,
        Math.round(ctx.scan.minAgeMs),
        selections.map((s) => s.purpose),
        selections.map((s) => s.interval),
        ...distinctLedgerKeys(ctx.scan, unheld),
        [...heldNow],
      ],
    );
    return { removed: rowCount ?? 0, held };
  });
}

/** [keys, their ledger form], each key once (two rows may share a key: one join row each). */
function distinctLedgerKeys(ctx: ScanContext, rows: readonly OrphanRow[]): [string[], string[]] {
  const keys = [...new Set(rows.map((r) => r.fileKey))];
  return [keys, keys.map(ctx.ledgerKey)];
}
