import { ConfigError, ErrorCodes, isLetheError, restoreFile, writeAudit } from '@lethe/engine';
import { callerOf } from '../auth.js';
import { readJsonObject } from '../body.js';
import { badRequest, HttpError, HttpErrorCodes } from '../errors.js';
import type { ResolvedHttpOptions } from '../options.js';
import { sendJson } from '../respond.js';
import type { Router } from '../router.js';
import { checkBody } from '../validate.js';
import { ADMIN_PREFIX, AdminAuditActions } from './admin-control.js';

/**
 * Undo-window restore over HTTP (issue 7, runbook EMERGENCY-002): brings a trashed file and its
 * `jobs` rows back, optionally under a legal hold. The engine writes the `cleanup_restored` audit
 * row; a refused restore is audited here. After the window it is 410 Gone, never a guess.
 */
export function registerRestoreRoutes(router: Router, o: ResolvedHttpOptions): void {
  router.add('POST', `${ADMIN_PREFIX}/restore`, async ({ req, res, authenticated }) => {
    const caller = callerOf(req, authenticated);
    const body = checkBody(await readJsonObject(req, o.bodyLimitBytes), {
      file_key: { type: 'string', required: true, maxLength: 1024 },
      hold_reason: { type: 'string', maxLength: 500 },
    });
    if (!o.engine) throw new HttpError(503, HttpErrorCodes.UNAVAILABLE, 'this service has no engine (storage) configured; restores need one');
    const fileKey = body.file_key as string;
    try {
      const result = await restoreFile(o.engine, { fileKey, by: caller.label, lockWaitMs: 5000, ...(typeof body.hold_reason === 'string' ? { holdReason: body.hold_reason } : {}) });
      o.logger.warn({ by: caller.label, restoreId: result.restore_id }, 'admin: file restored from the undo window');
      sendJson(res, 200, result);
    } catch (error) {
      const mapped = restoreError(error);
      if (!mapped) throw error;
      await writeAudit(o.pool, AdminAuditActions.RESTORE_REFUSED, { by: caller.label, remote: caller.remote, code: mapped.code, status: mapped.status });
      throw mapped;
    }
  }, 'admin-write');
}

function restoreError(error: unknown): HttpError | null {
  if (error instanceof ConfigError) return badRequest(`body.${error.message}`);
  if (!isLetheError(error)) return null;
  switch (error.code) {
    case ErrorCodes.GONE:
      return new HttpError(410, error.code, error.message);
    case ErrorCodes.CONFLICT:
    case ErrorCodes.RUN_IN_PROGRESS:
      return new HttpError(409, error.code, error.message);
    case ErrorCodes.NOT_FOUND:
      return new HttpError(404, error.code, error.message);
    default:
      return null;
  }
}
