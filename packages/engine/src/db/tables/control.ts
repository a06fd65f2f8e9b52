import { AuditActions, writeAudit } from './audit.js';
import { ConfigError } from '../../errors.js';
import type { Queryable } from '../pool.js';
import { pausedNotification, resumedNotification } from '../../notify/events.js';
import { safeNotify, type Notifier } from '../../notify/notifier.js';

/** Pause state shared by every replica, the CLI and the HTTP API (runbook OP-003, EMERGENCY-001). */
export interface ControlState {
  readonly paused: boolean;
  readonly pausedBy: string | null;
  readonly pausedAt: string | null;
  readonly reason: string | null;
}

export async function readControl(db: Queryable): Promise<ControlState> {
  const { rows } = await db.query<{ paused: boolean; paused_by: string | null; paused_at: Date | null; reason: string | null }>(
    'SELECT paused, paused_by, paused_at, reason FROM lethe_control WHERE id = 1',
  );
  const r = rows[0];
  return r
    ? { paused: r.paused, pausedBy: r.paused_by, pausedAt: r.paused_at?.toISOString() ?? null, reason: r.reason }
    : { paused: false, pausedBy: null, pausedAt: null, reason: null };
}

export interface PauseRequest {
  readonly by: string;
  readonly reason: string;
}

/**
 * Pauses Lethe everywhere; running runs stop at their next batch boundary. Idempotent. The
 * notifier (docs/runbook.md#notifications-webhook) hears of it once the pause is recorded; it never delays or fails the pause.
 */
export async function pause(db: Queryable, req: PauseRequest, notifier?: Notifier): Promise<ControlState> {
  if (typeof req.reason !== 'string' || req.reason.trim() === '')
    throw new ConfigError('reason: a pause needs a non-empty reason (who reads it at 3 a.m. needs to know why)');
  if (typeof req.by !== 'string' || req.by.trim() === '') throw new ConfigError('by: a pause needs the identity of who paused');
  await db.query(`UPDATE lethe_control SET paused = true, paused_by = $1, paused_at = now(), reason = $2, updated_at = now() WHERE id = 1`, [
    req.by,
    req.reason,
  ]);
  await writeAudit(db, AuditActions.PAUSED, { by: req.by, reason: req.reason });
  const state = await readControl(db);
  safeNotify(notifier, pausedNotification({ by: req.by, reason: req.reason, at: state.pausedAt }));
  return state;
}

/** Resumes; the notifier hears of it only when Lethe was paused (a no-op resume tells nobody). */
export async function resume(db: Queryable, req: { readonly by: string; readonly reason?: string }, notifier?: Notifier): Promise<ControlState> {
  const before = await readControl(db);
  await db.query(`UPDATE lethe_control SET paused = false, updated_at = now() WHERE id = 1`);
  await writeAudit(db, AuditActions.RESUMED, {
    by: req.by,
    reason: req.reason ?? null,
    was_paused: before.paused,
    paused_by: before.pausedBy,
    pause_reason: before.reason,
  });
  if (before.paused)
    safeNotify(notifier, resumedNotification({ by: req.by, reason: req.reason ?? null, pausedBy: before.pausedBy, pauseReason: before.reason }));
  return readControl(db);
}
