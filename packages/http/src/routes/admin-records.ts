import { ConfigError, ledgerKeyFor, writeAudit, type Engine } from '@lethe/engine';
import { lookupFileKey, monthlyReport, parseMonth } from '@lethe/engine/operations';
import type { FastifyReply } from 'fastify';
import { callerOf } from '../auth.js';
import { badRequest, HttpError, HttpErrorCodes } from '../errors.js';
import { adminErrors, errorResponse, json, readSecurity } from '../openapi.js';
import type { ResolvedHttpOptions } from '../options.js';
import { actorHeader, fields, text } from '../request-schemas.js';
import type { RouteSpec } from '../route-spec.js';
import { ADMIN_PREFIX, AdminAuditActions } from './admin-control.js';

/**
 * Ledger lookup (runbook FM-003) and the monthly compliance report, served from the engine's
 * operations. Both disclose per-file evidence, so each call writes an audit row with the caller's
 * label. Both need the engine (storage is checked too): without one they 503.
 */
export function recordRoutes(o: ResolvedHttpOptions): RouteSpec[] {
  return [
    {
      method: 'GET',
      url: `${ADMIN_PREFIX}/ledger`,
      access: 'admin-read',
      schema: {
        operationId: 'lookupFileKey',
        summary: 'When a file was erased, by which run, purpose and policy version; or its expiry if still present (runbook FM-003).',
        security: readSecurity,
        headers: actorHeader,
        querystring: fields({ file_key: text(1024, { nonEmpty: true }) }, ['file_key']),
        response: {
          200: json('LedgerLookup', 'What the ledger and the jobs table say about the key.'),
          400: errorResponse('Missing or bad file_key.'),
          ...adminErrors,
        },
      },
      handler: async (request, reply) => {
        const caller = callerOf(request, request.authenticated);
        const fileKey = (request.query as { file_key: string }).file_key;
        const engine = needEngine(o);
        const lookup = await lookupFileKey(engine, fileKey);
        // In HMAC mode the audit row names the key as the ledger does: never in plain text.
        await writeAudit(o.pool, AdminAuditActions.LEDGER_LOOKUP, {
          by: caller.label,
          remote: caller.remote,
          authenticated: caller.authenticated,
          file_key: ledgerKeyFor(engine.options, fileKey),
          state: lookup.state,
        });
        return reply.send(lookup);
      },
    },
    {
      method: 'GET',
      url: `${ADMIN_PREFIX}/report`,
      access: 'admin-read',
      schema: {
        operationId: 'monthlyReport',
        summary: 'Monthly compliance report (runbook Compliance Reporting).',
        security: readSecurity,
        headers: actorHeader,
        querystring: fields({ month: text(7, { pattern: '^\\d{4}-(0[1-9]|1[0-2])$', description: 'a month like "2025-11" (YYYY-MM)' }) }, ['month']),
        response: { 200: json('Report', 'The report.'), 400: errorResponse('Missing, malformed or future month.'), ...adminErrors },
      },
      handler: async (request, reply) => {
        const caller = callerOf(request, request.authenticated);
        const period = asBadRequest(() => parseMonth((request.query as { month: string }).month), 'query.');
        if (Date.parse(period.start) > o.now()) throw badRequest(`query.month: ${period.month} has not started yet`);
        const engine = needEngine(o);
        const report = await monthlyReport(engine, period.month, {
          graceMs: o.complianceGraceMs,
          staleAfterMs: o.staleAfterMs,
          signal: abortOnHangUp(reply),
        }).catch((error: unknown) => {
          // The database clock decides "not started yet" too; the rest is not the caller's mistake.
          if (error instanceof ConfigError && error.message.startsWith('month:')) throw badRequest(`query.${error.message}`);
          throw error;
        });
        await writeAudit(o.pool, AdminAuditActions.REPORT, {
          by: caller.label,
          remote: caller.remote,
          authenticated: caller.authenticated,
          month: period.month,
          status: report.status,
        });
        return reply.send(report);
      },
    },
  ];
}

function needEngine(o: ResolvedHttpOptions): Engine {
  if (!o.engine)
    throw new HttpError(503, HttpErrorCodes.UNAVAILABLE, 'this service has no engine (storage and policies) configured; lookups and reports need one');
  return o.engine;
}

function asBadRequest<T>(fn: () => T, prefix: string): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof ConfigError) throw badRequest(`${prefix}${error.message}`);
    throw error;
  }
}

/** A caller that hangs up stops the storage checks behind a report. */
function abortOnHangUp(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}
