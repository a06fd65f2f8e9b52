import { ConfigError, ledgerKeyFor, lookupFileKey, monthlyReport, parseMonth, writeAudit, type Engine } from '@lethe/engine';
import { callerOf } from '../auth.js';
import { badRequest, HttpError, HttpErrorCodes } from '../errors.js';
import type { ResolvedHttpOptions } from '../options.js';
import { sendJson } from '../respond.js';
import type { Router, RouteContext } from '../router.js';
import { checkQuery } from '../validate.js';
import { ADMIN_PREFIX, AdminAuditActions } from './admin-control.js';

/**
 * Ledger lookup (runbook FM-003) and the monthly compliance report, served from the engine's
 * operations (issue 6). Both disclose per-file evidence, so each call writes an audit row with
 * the caller's label. Both need the engine (storage is checked too): without one they 503.
 */
export function registerRecordRoutes(router: Router, o: ResolvedHttpOptions): void {
  router.add('GET', `${ADMIN_PREFIX}/ledger`, async (ctx) => {
    const caller = callerOf(ctx.req, ctx.authenticated);
    const q = checkQuery(ctx.url.searchParams, { file_key: { type: 'string', required: true, maxLength: 1024 } });
    const fileKey = q.file_key as string;
    const engine = needEngine(o);
    const lookup = await lookupFileKey(engine, fileKey);
    // In HMAC mode the audit row names the key as the ledger does: never in plain text.
    await writeAudit(o.pool, AdminAuditActions.LEDGER_LOOKUP, { by: caller.label, remote: caller.remote, authenticated: caller.authenticated, file_key: ledgerKeyFor(engine.options, fileKey), state: lookup.state });
    sendJson(ctx.res, 200, lookup);
  }, 'admin-read');

  router.add('GET', `${ADMIN_PREFIX}/report`, async (ctx) => {
    const caller = callerOf(ctx.req, ctx.authenticated);
    const q = checkQuery(ctx.url.searchParams, { month: { type: 'string', required: true, maxLength: 7 } });
    const period = asBadRequest(() => parseMonth(q.month), 'query.');
    if (Date.parse(period.start) > o.now()) throw badRequest(`query.month: ${period.month} has not started yet`);
    const engine = needEngine(o);
    const report = await monthlyReport(engine, period.month, {
      graceMs: o.complianceGraceMs,
      staleAfterMs: o.staleAfterMs,
      signal: abortOnHangUp(ctx),
    }).catch((error: unknown) => {
      // The database clock decides "not started yet" too; the rest is not the caller's mistake.
      if (error instanceof ConfigError && error.message.startsWith('month:')) throw badRequest(`query.${error.message}`);
      throw error;
    });
    await writeAudit(o.pool, AdminAuditActions.REPORT, { by: caller.label, remote: caller.remote, authenticated: caller.authenticated, month: period.month, status: report.status });
    sendJson(ctx.res, 200, report);
  }, 'admin-read');
}

function needEngine(o: ResolvedHttpOptions): Engine {
  if (!o.engine) throw new HttpError(503, HttpErrorCodes.UNAVAILABLE, 'this service has no engine (storage and policies) configured; lookups and reports need one');
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
function abortOnHangUp(ctx: RouteContext): AbortSignal {
  const controller = new AbortController();
  ctx.res.once('close', () => {
    if (!ctx.res.writableFinished) controller.abort();
  });
  return controller.signal;
}
