import { AuditActions, writeAudit } from './audit.js';
import { ConfigError } from './errors.js';
import type { Queryable } from './db.js';

/**
 * Releasing the holds on a file key with the operator's reason in the `cleanup_hold_released`
 * audit row (`lethe unhold --reason`). The same statement and audit shape as `releaseHolds` in
 * holds.ts, plus `reason`; holds.ts is owned elsewhere, so this lives apart until the two merge.
 * The UPDATE's row locks serialize two releases of one key: only the first writes an audit row.
 */
export async function releaseHoldsWithReason(db: Queryable, fileKey: string, by: string, reason: string | undefined): Promise<number> {
  if (reason !== undefined && (reason.trim() === '' || reason.length > 500)) throw new ConfigError('reason: expected a non-empty reason of at most 500 characters');
  const { rows } = await db.query<{ id: string; file_key: string }>(
    `UPDATE lethe_holds SET released_at = now(), released_by = $2 WHERE file_key = $1 AND released_at IS NULL RETURNING id::text, file_key`,
    [fileKey, by],
  );
  if (rows.length > 0) {
    await writeAudit(db, AuditActions.HOLD_RELEASED, { hold_ids: rows.map((r) => r.id), file_key: rows[0]!.file_key, by, ...(reason === undefined ? {} : { reason: reason.trim() }) });
  }
  return rows.length;
}
