import { ConfigError, writeAudit, type JobsTable } from '@lethe/engine';
import { evaluateHealth, gatherHealthFacts, listRuns, monthlyReport, reportHtml } from '@lethe/engine/operations';
import type { FastifyReply } from 'fastify';
import { callerOf } from '../auth.js';
import { countBacklog, type BacklogCount } from '../backlog.js';
import { badRequest, HttpError, HttpErrorCodes } from '../errors.js';
import { BACKLOG_CAP } from '../metrics.js';
import { adminErrors, errorResponse, readSecurity } from '../openapi.js';
import type { ResolvedHttpOptions } from '../options.js';
import { actorHeader, fields, text } from '../request-schemas.js';
import type { RouteSpec } from '../route-spec.js';
import { statusPageHtml } from '../status-page.js';
import { AdminAuditActions } from './admin-control.js';

/** Pages fetch nothing: the same policy as the pages' own meta tag, sent as a header too. */
const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";
const html = (description: string) => ({ description, content: { 'text/html': { schema: { type: 'string' } } } });
const RUNS_SHOWN = 10;

/**
 * The read-only pages behind the read token (like every admin read: docs/http.md#routes):
 * `GET /` the status page, `GET /report` the latest closed month's compliance report as HTML
 * (docs/runbook.md#compliance-reporting). Both are self-contained: no scripts, no external assets.
 */
export function statusPageRoutes(o: ResolvedHttpOptions, jobsTable: () => Promise<JobsTable | null>): RouteSpec[] {
  return [
    {
      method: 'GET',
      url: '/',
      access: 'admin-read',
      schema: {
        operationId: 'statusPage',
        summary: 'Read-only status page (HTML): health, next run, last runs, backlog, pause state.',
        security: readSecurity,
        querystring: fields({}),
        response: { 200: html('The status page.'), ...adminErrors },
      },
      handler: async (_request, reply) => {
        const table = await jobsTable();
        const [facts, runs, backlog] = await Promise.all([
          gatherHealthFacts(o.pool, o.now(), o.staleAfterMs, table),
          listRuns(o.pool, { limit: RUNS_SHOWN }),
          table === null
            ? Promise.resolve(null)
            : countBacklog(o.pool, table, BACKLOG_CAP).catch((error: unknown): BacklogCount[] | null => {
                o.logger.warn({ err: error }, 'status page: the backlog could not be counted');
                return null;
              }),
        ]);
        const page = statusPageHtml({
          health: evaluateHealth(facts, o.health),
          version: o.version,
          generatedAt: new Date(o.now()).toISOString(),
          runs,
          backlog,
          backlogCap: BACKLOG_CAP,
        });
        return sendHtml(reply, page);
      },
    },
    {
      method: 'GET',
      url: '/report',
      access: 'admin-read',
      schema: {
        operationId: 'reportPage',
        summary: 'The monthly compliance report as one self-contained HTML page; default the last closed month (runbook Compliance Reporting).',
        security: readSecurity,
        headers: actorHeader,
        querystring: fields({
          month: text(7, { pattern: '^\\d{4}-(0[1-9]|1[0-2])$', description: 'a month like "2025-11" (YYYY-MM); default: the last full month' }),
        }),
        response: { 200: html('The report (also for a NON-COMPLIANT month).'), 400: errorResponse('Malformed or future month.'), ...adminErrors },
      },
      handler: async (request, reply) => {
        const caller = callerOf(request, request.authenticated);
        if (!o.engine) throw new HttpError(503, HttpErrorCodes.UNAVAILABLE, 'this service has no engine (storage and policies) configured; reports need one');
        const month = (request.query as { month?: string }).month;
        const report = await monthlyReport(o.engine, month, { graceMs: o.complianceGraceMs, staleAfterMs: o.staleAfterMs }).catch((error: unknown) => {
          if (error instanceof ConfigError && error.message.startsWith('month:')) throw badRequest(`query.${error.message}`);
          throw error;
        });
        // The report discloses per-file evidence: every read is recorded, as the JSON route does.
        await writeAudit(o.pool, AdminAuditActions.REPORT, {
          by: caller.label,
          remote: caller.remote,
          authenticated: caller.authenticated,
          month: report.month,
          status: report.status,
          format: 'html',
        });
        return sendHtml(reply, reportHtml(report));
      },
    },
  ];
}

function sendHtml(reply: FastifyReply, page: string): FastifyReply {
  return reply
    .type('text/html; charset=utf-8')
    .header('content-security-policy', PAGE_CSP)
    .serializer((s: unknown) => String(s))
    .send(page);
}
