import { randomUUID } from 'node:crypto';
import { writeAudit, type AuditAction } from '../db/tables/audit.js';
import { withTransaction, type Queryable } from '../db/pool.js';
import type { Engine } from '../engine.js';
import { ConfigError, ErrorCodes, LetheError } from '../errors.js';
import { placeHold } from '../db/tables/holds.js';
import { inspectJobsTable, type JobsTable } from '../db/jobs-table.js';
import { ledgerKeyFor } from '../policy/ledger-keys.js';
import { loadCurrentPolicies } from '../db/tables/policy-versions.js';
import type { ObjectBody, StoragePort } from '../ports.js';
import { createStorage, describeStorage } from '../storage/index.js';
import { checkKey } from '../storage/keys.js';
import { isReservedKey, reservedKeyProblem } from '../storage/trash-keys.js';
import { backupLocation, type InheritedSetting } from './backup-location.js';
import { withRunLock } from '../run/locked.js';
import { policySelections } from './plan.js';
import { ledgerInsertSql } from '../db/tables/ledger-chain.js';

/**
 * `lethe restore <file_key> --from <backup>` (runbook EMERGENCY-002 past the undo window):
 * the file is copied back from a backup (a directory or an s3:// URL holding the same key layout),
 * the `jobs` rows its last erasure removed are recreated from the ledger (`job_row`; when a purge
 * dropped that copy, from the ledger's own columns: id, purpose, created_at), and a legal hold is
 * placed on the key so the next run does not erase it again before someone reviews it. Recorded
 * as `restored` ledger rows and one `cleanup_restored_from_backup` audit row.
 *
 * Storage first, then the database, under the run lock. A restore that stopped after the copy
 * finds the file at its key with no row (and the backup's size): it finishes the database part.
 */
export const RESTORED_FROM_BACKUP: AuditAction = 'cleanup_restored_from_backup';

const REMOVAL_OUTCOMES = ['erased', 'absent', 'trashed'];

export interface RestoreFromBackupRequest {
  readonly fileKey: string;
  /**
   * A directory (`/mnt/backup/2025-11-30`, `file:///...`) or `s3://bucket/prefix[?endpoint=...]`:
   * an s3:// URL without an endpoint, region or credentials takes them from the storage's settings.
   */
  readonly from: string;
  readonly by: string;
  /** The hold's reason (default: says it was restored from a backup and awaits review). */
  readonly holdReason?: string;
  readonly lockWaitMs?: number;
}

export interface RestoreFromBackupResult {
  readonly restore_id: string;
  readonly file_key: string;
  readonly from: string;
  /** Connection settings of the backup taken from the storage's (LETHE_STORAGE): the --from URL gave none. */
  readonly backup_settings_from_storage: readonly InheritedSetting[];
  readonly bytes: number;
  /** The run whose erasure this undoes, and when it erased. */
  readonly erased_by_run: string;
  readonly erased_at: string;
  readonly restored_job_ids: readonly string[];
  readonly already_present_job_ids: readonly string[];
  /** Rows recreated from the ledger's columns only (their full copy was dropped by a purge). */
  readonly rebuilt_from_columns_job_ids: readonly string[];
  /** Still expired under the current policy: only the hold keeps the next run from erasing them. */
  readonly still_expired_job_ids: readonly string[];
  readonly hold_id: string;
  readonly resumed: boolean;
}

type Removal = { id: string; run_id: string; job_id: string; erased_at: Date; trashed_open: boolean };

export async function restoreFromBackup(engine: Engine, req: RestoreFromBackupRequest): Promise<RestoreFromBackupResult> {
  const problem =
    typeof req.fileKey === 'string'
      ? (checkKey(req.fileKey) ?? (isReservedKey(req.fileKey) ? reservedKeyProblem() : null))
      : { message: 'file_key: expected a non-empty key' };
  if (problem) throw new ConfigError(problem.message);
  if (req.holdReason !== undefined && req.holdReason.trim() === '') throw new ConfigError('hold reason: expected a non-empty reason');
  const location = backupLocation(req.from, engine.options.storage);
  const backupConfig = location.config;
  const target = engine.storage();
  if (!target.writeObject) throw new ConfigError(`storage: ${target.describe} cannot write objects to restore into`);
  const ledgerKey = ledgerKeyFor(engine.options, req.fileKey);
  const backup = await createStorage(backupConfig);
  try {
    return await withRunLock(
      engine.pool,
      engine.options,
      async () => {
        const table = await inspectJobsTable(engine.pool, engine.options.jobs);
        const removals = await lastRemoval(engine.pool, ledgerKey, req.fileKey);
        const copied = await copyBack(backup, target, req.fileKey, describeStorage(backupConfig), () => keyHasRows(engine.pool, table, req.fileKey));
        return await record(engine, table, req, ledgerKey, removals, { ...copied, inherited: location.inherited });
      },
      req.lockWaitMs,
    );
  } finally {
    await backup.close();
  }
}

/** The ledger rows of the key's latest removal (one run may remove several rows sharing a key). */
async function lastRemoval(db: Queryable, ledgerKey: string, key: string): Promise<Removal[]> {
  const { rows } = await db.query<Removal>(
    `WITH last AS (SELECT run_id FROM lethe_ledger WHERE file_key = $1 AND outcome = ANY($2::text[]) ORDER BY id DESC LIMIT 1)
     SELECT l.id::text, l.run_id::text, l.job_id, l.erased_at, (l.outcome = 'trashed' AND l.settled_at IS NULL) AS trashed_open
       FROM lethe_ledger l JOIN last ON l.run_id = last.run_id
      WHERE l.file_key = $1 AND l.outcome = ANY($2::text[]) ORDER BY l.id`,
    [ledgerKey, REMOVAL_OUTCOMES],
  );
  const k = JSON.stringify(key);
  if (rows.length === 0) throw new LetheError(ErrorCodes.NOT_FOUND, `file_key ${k}: Lethe has no record of erasing it (no ledger row): nothing to restore`);
  if (rows.some((r) => r.trashed_open)) {
    throw new LetheError(ErrorCodes.CONFLICT, `file_key ${k}: it is still in the undo window's trash: use \`lethe restore ${req(key)}\` without --from`);
  }
  return rows;
}

const req = (key: string): string => (/^[\w./-]+$/.test(key) ? key : JSON.stringify(key));

async function keyHasRows(db: Queryable, t: JobsTable, key: string): Promise<boolean> {
  const { rowCount } = await db.query(`SELECT 1 FROM ${t.table} WHERE ${t.fileKey} = $1 LIMIT 1`, [key]);
  return (rowCount ?? 0) > 0;
}

/** Copies the backup's object to the key; never over another file (an earlier, interrupted restore of the same size is taken as done). */
async function copyBack(
  backup: StoragePort,
  target: StoragePort,
  key: string,
  from: string,
  hasRows: () => Promise<boolean>,
): Promise<{ bytes: number; resumed: boolean }> {
  const k = JSON.stringify(key);
  if (!backup.readObject) throw new ConfigError(`from: ${from} cannot be read as a backup`);
  const source: ObjectBody | null = await backup.readObject(key);
  if (!source)
    throw new LetheError(ErrorCodes.NOT_FOUND, `file_key ${k}: the backup ${from} has no such file (expected it at the same key under the backup location)`);
  try {
    const written = await target.writeObject!(key, source);
    if (written.outcome === 'written') return { bytes: written.size, resumed: false };
    if (written.outcome === 'failed')
      throw new LetheError(ErrorCodes.STORAGE, `file_key ${k}: could not write it to ${target.describe}: ${written.code}: ${written.message}`);
    const there = await target.stat(key);
    if (there && there.size === source.size && !(await hasRows())) return { bytes: there.size, resumed: true };
    throw new LetheError(
      ErrorCodes.CONFLICT,
      `file_key ${k}: a file is already at this key in ${target.describe}${(await hasRows()) ? ' and rows refer to it (restored already?)' : ''}; nothing was overwritten`,
    );
  } finally {
    source.body.destroy();
  }
}

/** One transaction: the rows back (ON CONFLICT DO NOTHING), `restored` ledger rows, the hold, the audit row. */
async function record(
  engine: Engine,
  t: JobsTable,
  r: RestoreFromBackupRequest,
  ledgerKey: string,
  removals: readonly Removal[],
  copied: { bytes: number; resumed: boolean; inherited: readonly InheritedSetting[] },
): Promise<RestoreFromBackupResult> {
  const restoreId = randomUUID();
  const selections = policySelections((await loadCurrentPolicies(engine.pool)).policies);
  const by = r.by;
  return withTransaction(engine.pool, async (client) => {
    const { rows } = await client.query<{ job_id: string; from_columns: boolean; inserted: boolean; expired: boolean | null }>(
      ledgerInsertSql({
        with: `src AS (
         SELECT l.*, l.job_row IS NULL AS from_columns,
                coalesce(l.job_row, jsonb_build_object($3::text, l.job_id, $4::text, l.purpose_code, $5::text, to_char(l.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'))) AS row_json
           FROM lethe_ledger l WHERE l.id = ANY($1::bigint[])
       ), j AS (
         INSERT INTO ${t.table} OVERRIDING SYSTEM VALUE
         SELECT (jsonb_populate_record(NULL::${t.table}, s.row_json || jsonb_build_object($6::text, $2::text))).* FROM src s
         ON CONFLICT DO NOTHING
         RETURNING ${t.id}::text AS job_id,
                   ${t.createdAt} + (SELECT p.r FROM unnest($9::text[], $10::interval[]) AS p(purpose, r) WHERE p.purpose = ${t.purpose}) < ${t.toColumnTime('now()')} AS expired
       )`,
        columns: 'run_id, job_id, file_key, purpose_code, created_at, expires_at, outcome, policy_version, error',
        select: `SELECT $7::uuid, job_id, file_key, purpose_code, created_at, expires_at, 'restored', policy_version, $8::text FROM src`,
        result: `SELECT s.job_id, s.from_columns, j.job_id IS NOT NULL AS inserted, j.expired FROM src s LEFT JOIN j ON j.job_id = s.job_id`,
      }),
      [
        removals.map((x) => x.id),
        r.fileKey,
        t.names.id,
        t.names.purpose,
        t.names.createdAt,
        t.names.fileKey,
        restoreId,
        `restored from backup ${r.from} by ${by}`,
        selections.map((s) => s.purpose),
        selections.map((s) => s.interval),
      ],
    );
    const restored = rows.filter((x) => x.inserted).map((x) => x.job_id);
    const hold = await placeHold(client, t, {
      target: { fileKey: r.fileKey },
      by,
      reason: r.holdReason ?? `restored from backup ${r.from} by ${by}: review, then \`lethe unhold\``,
    });
    const result: RestoreFromBackupResult = {
      restore_id: restoreId,
      file_key: r.fileKey,
      from: r.from,
      backup_settings_from_storage: copied.inherited,
      bytes: copied.bytes,
      erased_by_run: removals[0]!.run_id,
      erased_at: removals[0]!.erased_at.toISOString(),
      restored_job_ids: restored,
      already_present_job_ids: rows.filter((x) => !x.inserted).map((x) => x.job_id),
      rebuilt_from_columns_job_ids: rows.filter((x) => x.inserted && x.from_columns).map((x) => x.job_id),
      still_expired_job_ids: rows.filter((x) => x.inserted && x.expired === true).map((x) => x.job_id),
      hold_id: hold.id,
      resumed: copied.resumed,
    };
    await writeAudit(client, RESTORED_FROM_BACKUP, { ...result, file_key: ledgerKey, by });
    return result;
  });
}
