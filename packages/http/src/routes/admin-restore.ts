import { ConfigError, ErrorCodes, isLetheError, writeAudit } from '@lethe/engine';
import { restoreFile } from '@lethe/engine/operations';
import { callerOf } from '../auth.js';
import { badRequest, fromEngineError, HttpError, HttpErrorCodes } from '../errors.js';
import { adminErrors, bodyErrors, errorResponse, json, writeSecurity } from '../openapi.js';
import type { ResolvedHttpOptions } from '../options.js';
import { actorHeader, fields, text } from '../request-schemas.js';
import type { RouteSpec } from '../route-spec.js';
import { ADMIN_PREFIX, AdminAuditActions } from './admin-control.js';

/**
 * Undo-window restore over HTTP (docs/safety.md#undo-window-default-off, runbook EMERGENCY-002): brings a trashed file and its
 * `jobs` rows back, optionally under a legal hold. The engine writes the `cleanup_restored` audit
 * row; a refused restore is audited here. After the window it is 410 Gone, never a guess.
 */
export function restoreRoutes(o: ResolvedHttpOptions): RouteSpec[] {
  return [
    {
      method: 'POST',
      url: `${ADMIN_PREFIX}/restore`,
      access: 'admin-write',
      schema: {
        operationId: 'restoreFile',
        summary:
          'Bring a file and its jobs rows back from the undo window (docs/safety.md#undo-window-default-off, runbook EMERGENCY-002), optionally under a legal hold.',
        security: writeSecurity,
        headers: actorHeader,
        body: fields({ file_key: text(1024, { nonEmpty: true }), hold_reason: text(500) }, ['file_key']),
        response: {
          200: json('RestoreResult', 'Restored.'),
          409: errorResponse('A different file is at the key now, or a run holds the lock.'),
          410: errorResponse('The undo window is over (purged) or the trash copy is gone.'),
          503: errorResponse('This service has no engine configured.'),
          ...bodyErrors,
          ...adminErrors,
        },
      },
      handler: async (request, reply) => {
        const caller = callerOf(request, request.authenticated);
        const body = request.body as { file_key: string; hold_reason?: string };
        if (!o.engine) throw new HttpError(503, HttpErrorCodes.UNAVAILABLE, 'this service has no engine (storage) configured; restores need one');
        try {
          const result = await restoreFile(o.engine, {
            fileKey: body.file_key,
            by: caller.label,
            lockWaitMs: 5000,
            ...(body.hold_reason === undefined ? {} : { holdReason: body.hold_reason }),
          });
          o.logger.warn({ by: caller.label, restoreId: result.restore_id }, 'admin: file restored from the undo window');
          return await reply.send(result);
        } catch (error) {
          const mapped = restoreError(error);
          if (!mapped) throw error;
          await writeAudit(o.pool, AdminAuditActions.RESTORE_REFUSED, { by: caller.label, remote: caller.remote, code: mapped.code, status: mapped.status });
          throw mapped;
        }
      },
    },
  ];
}

/** Bad request fields are the request's (400 naming `body.<field>`); the rest by the engine's error table (GONE 410, CONFLICT 409, NOT_FOUND 404). */
function restoreError(error: unknown): HttpError | null {
  if (error instanceof ConfigError) return badRequest(`body.${error.message}`);
  return fromEngineError(error);
}
