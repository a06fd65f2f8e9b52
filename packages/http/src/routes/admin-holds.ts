import { ConfigError, DEFAULT_JOBS_TABLE, ErrorCodes, inspectJobsTable, isLetheError, ledgerKeyFor, placeHold } from '@lethe/engine';
import { callerOf } from '../auth.js';
import { readJsonObject } from '../body.js';
import { badRequest, HttpError } from '../errors.js';
import type { ResolvedHttpOptions } from '../options.js';
import { sendJson } from '../respond.js';
import type { Router } from '../router.js';
import { checkBody } from '../validate.js';
import { ADMIN_PREFIX } from './admin-control.js';

/**
 * Legal holds over HTTP, as `lethe hold` (docs/safety.md#holds): the hold is serialized with batches
 * in flight, so 201 means the file is protected, and 410 names the run that erased it first.
 */
export function registerHoldRoutes(router: Router, o: ResolvedHttpOptions): void {
  router.add('POST', `${ADMIN_PREFIX}/holds`, async ({ req, res, authenticated }) => {
    const caller = callerOf(req, authenticated);
    const body = checkBody(await readJsonObject(req, o.bodyLimitBytes), {
      file_key: { type: 'string', maxLength: 1024 },
      job_id: { type: 'string', maxLength: 200 },
      reason: { type: 'string', required: true, maxLength: 500 },
      until: { type: 'string', maxLength: 40 },
    });
    const fileKey = typeof body.file_key === 'string' ? body.file_key : undefined;
    const jobId = typeof body.job_id === 'string' ? body.job_id : undefined;
    if ((fileKey === undefined) === (jobId === undefined)) throw badRequest('body: give either file_key or job_id, not both and not neither');
    const options = o.engine?.options;
    const table = await inspectJobsTable(o.pool, options?.jobs ?? DEFAULT_JOBS_TABLE);
    try {
      const hold = await placeHold(o.pool, table, {
        target: fileKey !== undefined ? { fileKey } : { jobId: jobId! },
        reason: body.reason as string,
        by: caller.label,
        ...(typeof body.until === 'string' ? { until: body.until } : {}),
        ...(options ? { ledgerKey: (k: string) => ledgerKeyFor(options, k) } : {}),
      });
      o.logger.warn({ by: caller.label, holdId: hold.id }, 'admin: legal hold placed');
      sendJson(res, 201, hold);
    } catch (error) {
      if (error instanceof ConfigError) throw badRequest(`body.${error.message}`);
      if (isLetheError(error) && error.code === ErrorCodes.GONE) throw new HttpError(410, error.code, error.message);
      if (isLetheError(error) && error.code === ErrorCodes.NOT_FOUND) throw new HttpError(404, error.code, error.message);
      throw error;
    }
  }, 'admin-write');
}
