import { AuditActions, ErrorCodes, isLetheError, pause, readControl, resume, writeAudit } from '@lethe/engine';
import { callerOf } from '../auth.js';
import { fromEngineError, HttpError, HttpErrorCodes } from '../errors.js';
import { adminErrors, bodyErrors, emergencyBodyErrors, errorResponse, json, writeSecurity } from '../openapi.js';
import type { ResolvedHttpOptions } from '../options.js';
import { actorHeader, fields, flag, text } from '../request-schemas.js';
import type { RouteSpec } from '../route-spec.js';
import { controlJson } from '../run-json.js';

export const ADMIN_PREFIX = '/api/admin/cleanup';

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
export function controlRoutes(o: ResolvedHttpOptions): RouteSpec[] {
  return [
    {
      method: 'POST',
      url: `${ADMIN_PREFIX}/pause`,
      access: 'admin-write',
      anyContentType: true,
      schema: {
        operationId: 'pause',
        summary: 'Pause Lethe everywhere (runbook OP-003, EMERGENCY-001); a running run stops at its next batch.',
        security: writeSecurity,
        headers: actorHeader,
        body: fields({ reason: text(500, { nonEmpty: true }) }, ['reason']),
        response: { 200: json('Control', 'Paused.'), ...emergencyBodyErrors, ...adminErrors },
      },
      handler: async (request, reply) => {
        const caller = callerOf(request, request.authenticated);
        const { reason } = request.body as { reason: string };
        const state = await pause(o.pool, { by: caller.label, reason }, o.engine?.options.notifier);
        o.logger.warn({ by: caller.label, remote: caller.remote, reason }, 'admin: Lethe paused');
        return reply.send(controlJson(state));
      },
    },
    {
      method: 'POST',
      url: `${ADMIN_PREFIX}/resume`,
      access: 'admin-write',
      anyContentType: true,
      schema: {
        operationId: 'resume',
        summary: 'Resume Lethe (runbook OP-003).',
        security: writeSecurity,
        headers: actorHeader,
        body: fields({ reason: text(500) }),
        response: { 200: json('Control', 'Resumed.'), ...emergencyBodyErrors, ...adminErrors },
      },
      handler: async (request, reply) => {
        const caller = callerOf(request, request.authenticated);
        const { reason } = request.body as { reason?: string };
        const state = await resume(o.pool, { by: caller.label, ...(reason === undefined ? {} : { reason }) }, o.engine?.options.notifier);
        o.logger.warn({ by: caller.label, remote: caller.remote }, 'admin: Lethe resumed');
        return reply.send(controlJson(state));
      },
    },
    {
      method: 'POST',
      url: `${ADMIN_PREFIX}/runs`,
      access: 'admin-write',
      schema: {
        operationId: 'triggerRun',
        summary: 'Start a run now (runbook OP-001); answers with its id at once while the run goes on.',
        security: writeSecurity,
        headers: actorHeader,
        body: fields({ dryRun: flag(), allowLarge: flag('Proceed past the blast-radius guard (docs/safety.md#blast-radius-guard).') }),
        response: {
          202: json('RunAccepted', 'Started; poll the location for its outcome.'),
          409: errorResponse('Paused (real runs only), another run is in progress, or the blast-radius guard refused the run.'),
          503: errorResponse('This service cannot start runs (no engine, not migrated, or no storage configured).'),
          ...bodyErrors,
          ...adminErrors,
        },
      },
      handler: async (request, reply) => {
        const caller = callerOf(request, request.authenticated);
        const body = request.body as { dryRun?: boolean; allowLarge?: boolean };
        const dryRun = body.dryRun === true;
        const allowLarge = body.allowLarge === true;
        if (!o.triggerRun) throw new HttpError(503, HttpErrorCodes.UNAVAILABLE, 'this service cannot start runs (no engine configured)');
        // Fail fast with a clear 409 rather than a run that refuses to start (dry runs are allowed).
        const control = await readControl(o.pool);
        if (control.paused && !dryRun) {
          await writeAudit(o.pool, AdminAuditActions.RUN_REFUSED, { by: caller.label, remote: caller.remote, dry_run: dryRun, code: ErrorCodes.PAUSED });
          throw new HttpError(
            409,
            ErrorCodes.PAUSED,
            `Lethe is paused (by ${control.pausedBy ?? 'unknown'}: ${control.reason ?? 'no reason given'}); resume first`,
          );
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
        await writeAudit(o.pool, AdminAuditActions.RUN_TRIGGERED, {
          by: caller.label,
          remote: caller.remote,
          dry_run: dryRun,
          allow_large: allowLarge,
          run_id: runId,
        });
        o.logger.info({ by: caller.label, runId, dryRun }, 'admin: run triggered');
        const location = `${ADMIN_PREFIX}/runs/${runId}`;
        return reply.code(202).header('location', location).send({ run_id: runId, dry_run: dryRun, status: 'running', location });
      },
    },
  ];
}

/**
 * A run that could not start, answered by the engine's error table (ERROR_ANSWERS: PAUSED,
 * RUN_IN_PROGRESS, BLAST_RADIUS are 409). One deliberate override: the server's own configuration
 * (CONFIG, STORAGE_URL) or schema is not the caller's mistake, so it is a 503, not the table's 400.
 */
function triggerError(error: unknown): HttpError | null {
  if (!isLetheError(error)) return null;
  switch (error.code) {
    case ErrorCodes.NOT_MIGRATED:
    case ErrorCodes.SCHEMA:
    case ErrorCodes.CONFIG:
    case ErrorCodes.STORAGE_URL:
      return new HttpError(503, error.code, `the run could not start: ${error.message}`);
    default:
      return fromEngineError(error);
  }
}
