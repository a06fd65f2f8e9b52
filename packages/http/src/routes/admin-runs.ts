import { getRun, listRuns } from '@lethe/engine';
import { badRequest, HttpError, HttpErrorCodes } from '../errors.js';
import type { ResolvedHttpOptions } from '../options.js';
import { sendJson } from '../respond.js';
import type { Router } from '../router.js';
import { runDetailJson, runJson } from '../run-json.js';
import { checkQuery } from '../validate.js';
import { ADMIN_PREFIX } from './admin-control.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Runbook OP-004 (history) and FM-002 (a run's failures grouped by code). */
export function registerRunRoutes(router: Router, o: ResolvedHttpOptions): void {
  router.add('GET', `${ADMIN_PREFIX}/runs`, async ({ res, url }) => {
    const q = checkQuery(url.searchParams, { limit: { type: 'integer', min: 1, max: 100 }, include_dry_runs: { type: 'boolean' } });
    const runs = await listRuns(o.pool, { limit: (q.limit as number | undefined) ?? 10, includeDryRuns: q.include_dry_runs === true });
    sendJson(res, 200, { runs: runs.map(runJson) });
  }, 'admin-read');

  router.add('GET', `${ADMIN_PREFIX}/runs/:id`, async ({ res, url, params }) => {
    checkQuery(url.searchParams, {});
    const id = params.id ?? '';
    if (!UUID_RE.test(id)) throw badRequest(`id: expected a run id (a UUID), got ${JSON.stringify(id.slice(0, 80))}`);
    const detail = await getRun(o.pool, id);
    if (!detail) throw new HttpError(404, HttpErrorCodes.NOT_FOUND, `no run with id ${id}`);
    sendJson(res, 200, runDetailJson(detail));
  }, 'admin-read');
}
