import { writeAudit, type JobsTable } from '@lethe/engine';
import { callerOf } from '../auth.js';
import { monthlyReport } from '../compliance-report.js';
import { badRequest } from '../errors.js';
import { lookupFileKey } from '../ledger-lookup.js';
import type { ResolvedHttpOptions } from '../options.js';
import { sendJson } from '../respond.js';
import type { Router } from '../router.js';
import { checkQuery } from '../validate.js';
import { ADMIN_PREFIX, AdminAuditActions } from './admin-control.js';

const MONTH_RE = /^(\d{4})-(0[1-9]|1[0-2])$/;

/**
 * Ledger lookup (runbook FM-003) and the monthly compliance report. Both disclose per-file
 * evidence, so each call writes an audit row with the caller's label.
 */
export function registerRecordRoutes(router: Router, o: ResolvedHttpOptions, jobsTable: () => Promise<JobsTable>): void {
  router.add('GET', `${ADMIN_PREFIX}/ledger`, async ({ req, res, url, authenticated }) => {
    const caller = callerOf(req, authenticated);
    const q = checkQuery(url.searchParams, { file_key: { type: 'string', required: true, maxLength: 1024 } });
    const fileKey = q.file_key as string;
    const lookup = await lookupFileKey(o.pool, await jobsTable(), fileKey);
    await writeAudit(o.pool, AdminAuditActions.LEDGER_LOOKUP, { by: caller.label, remote: caller.remote, authenticated: caller.authenticated, file_key: fileKey, status: lookup.status });
    sendJson(res, 200, lookup);
  }, 'admin-read');

  router.add('GET', `${ADMIN_PREFIX}/report`, async ({ req, res, url, authenticated }) => {
    const caller = callerOf(req, authenticated);
    const q = checkQuery(url.searchParams, { month: { type: 'string', required: true, maxLength: 7, pattern: MONTH_RE, hint: 'a month like 2025-11' } });
    const month = q.month as string;
    const year = Number(month.slice(0, 4));
    if (year < 2000 || year > 2999) throw badRequest(`query.month: year must be from 2000 to 2999, got ${year}`);
    if (Date.UTC(year, Number(month.slice(5)) - 1, 1) > o.now()) throw badRequest(`query.month: ${month} has not started yet`);
    const report = await monthlyReport(o.pool, await jobsTable(), {
      month, graceMs: o.complianceGraceMs, defaultPeriodMs: o.health.defaultPeriodMs, staleAfterMs: o.staleAfterMs,
    });
    await writeAudit(o.pool, AdminAuditActions.REPORT, { by: caller.label, remote: caller.remote, authenticated: caller.authenticated, month, compliance: report.compliance.status });
    sendJson(res, 200, report);
  }, 'admin-read');
}
