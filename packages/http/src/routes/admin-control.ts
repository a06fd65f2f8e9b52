import { AuditActions, ErrorCodes, isLetheError, pause, readControl, resume, writeAudit } from '@lethe/engine';
import { callerOf } from '../auth.js';
import { readJsonObject } from '../body.js';
import { HttpError, HttpErrorCodes } from '../errors.js';
import type { ResolvedHttpOptions } from '../options.js';
import { sendJson } from '../respond.js';
import type { Router } from '../router.js';
import { controlJson } from '../run-json.js';
import { checkBody } from '../validate.js';

export const ADMIN_PREFIX = '/api/admin/cleanup';

/** Pause and resume read their JSON body whatever the content type (`curl -d` sends a form type). */
const EMERGENCY_BODY = { anyContentType: true } as const;

export const AdminAuditActions = {
  RUN_TRIGGERED: 'cleanup_admin_run_triggered',
  RUN_REFUSED: 'cleanup_admin_run_refused',
  LEDGER_LOOKUP: 'cleanup_admin_ledger_lookup',
  REPORT: 'cleanup_admin_report',
  RESTORE_REFUSED: 'cleanup_admin_restore_refused',
} as const;

/**
 * Runbook OP-003 / EMERGENCY-001 (pause, resume) and OP-001 (manual trigger) over HTTP. Pause and
 * resume write their own audit rows (`cleanup_paused`, `cleanup_resumed`) with the caller's label
 * as `by`; a trigger writes `cleanup_admin_run_triggered` with the run id.
 */
export function registerControlRoutes(router: Router, o: ResolvedHttpOptions): void {
  router.add('POST', `${ADMIN_PREFIX}/pause`, async ({ req, res, authenticated }) => {
    const caller = callerOf(req, authenticated);
    const body = checkBody(await readJsonObject(req, o.bodyLimitBytes, EMERGENCY_BODY), { reason: { type: 'string', required: true, maxLength: 500 } });
    const state = await pause(o.pool, { by: caller.label, reason: body.reason as string }, o.engine?.options.notifier);
    o.logger.warn({ by: caller.label, remote: caller.remote, reason: body.reason }, 'admin: Lethe paused');
    sendJson(res, 200, controlJson(state));
  }, 'admin-write');

  router.add('POST', `${ADMIN_PREFIX}/resume`, async ({ req, res, authenticated }) => {
    const caller = callerOf(req, authenticated);
    const body = checkBody(await readJsonObject(req, o.bodyLimitBytes, EMERGENCY_BODY), { reason: { type: 'string', maxLength: 500 } });
    const state = await resume(o.pool, { by: caller.label, ...(typeof body.reason === 'string' ? { reason: body.reason } : {}) }, o.engine?.options.notifier);
    o.logger.warn({ by: caller.label, remote: caller.remote }, 'admin: Lethe resumed');
    sendJson(res, 200, controlJson(state));
  }, 'admin-write');

  router.add('POST', `${ADMIN_PREFIX}/runs`, async ({ req, res, authenticated }) => {
    const caller = callerOf(req, authenticated);
    const body = checkBody(await readJsonObject(req, o.bodyLimitBytes), { dryRun: { type: 'boolean' }, allowLarge: { type: 'boolean' } });
    const dryRun = body.dryRun === true;
    const allowLarge = body.allowLarge === true;
    if (!o.triggerRun) throw new HttpError(503, HttpErrorCodes.UNAVAILABLE, 'this service cannot start runs (no engine configured)');
    // Fail fast with a clear 409 rather than a run that refuses to start (dry runs are allowed).
    const control = await readControl(o.pool);
    if (control.paused && !dryRun) {
      await writeAudit(o.pool, AdminAuditActions.RUN_REFUSED, { by: caller.label, remote: caller.remote, dry_run: dryRun, code: ErrorCodes.PAUSED });
      throw new HttpError(409, ErrorCodes.PAUSED, `Lethe is paused (by ${control.pausedBy ?? 'unknown'}: ${control.reason ?? 'no reason given'}); resume first`);
    }
    let runId: string;
    try {
      runId = await o.triggerRun({ dryRun, by: caller.label, ...(allowLarge ? { allowLarge } : {}) });
    } catch (error) {
      const mapped = triggerError(error);
      if (mapped) {
        await writeAudit(o.pool, AdminAuditActions.RUN_REFUSED, { by: caller.label, remote: caller.remote, dry_run: dryRun, code: mapped.code });
        throw mapped;
      }
      throw error;
    }
    await writeAudit(o.pool, AdminAuditActions.RUN_TRIGGERED, { by: caller.label, remote: caller.remote, dry_run: dryRun, allow_large: allowLarge, run_id: runId });
    o.logger.info({ by: caller.label, runId, dryRun }, 'admin: run triggered');
    const location = `${ADMIN_PREFIX}/runs/${runId}`;
    sendJson(res, 202, { run_id: runId, dry_run: dryRun, status: 'running', location }, { location });
  }, 'admin-write');
}

/** A run that could not start for a known reason is a 409/503 the operator can act on. */
function triggerError(error: unknown): HttpError | null {
  if (!isLetheError(error)) return null;
  switch (error.code) {
    case ErrorCodes.PAUSED:
    case ErrorCodes.RUN_IN_PROGRESS:
    case ErrorCodes.BLAST_RADIUS:
      return new HttpError(409, error.code, error.message);
    case ErrorCodes.NOT_MIGRATED:
    case ErrorCodes.SCHEMA:
    case ErrorCodes.CONFIG:
    case ErrorCodes.STORAGE_URL:
      return new HttpError(503, error.code, `the run could not start: ${error.message}`);
    default:
      return null;
  }
}
