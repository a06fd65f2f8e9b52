import { ConfigError, DEFAULT_JOBS_TABLE, ErrorCodes, inspectJobsTable, isLetheError, ledgerKeyFor, placeHold } from '@lethe/engine';
import { callerOf } from '../auth.js';
import { badRequest, fromEngineError } from '../errors.js';
import { adminErrors, bodyErrors, errorResponse, json, writeSecurity } from '../openapi.js';
import type { ResolvedHttpOptions } from '../options.js';
import { actorHeader, fields, text } from '../request-schemas.js';
import type { RouteSpec } from '../route-spec.js';
import { ADMIN_PREFIX } from './admin-control.js';

/**
 * Legal holds over HTTP, as `lethe hold` (docs/safety.md#holds): the hold is serialized with batches
 * in flight, so 201 means the file is protected, and 410 names the run that erased it first.
 */
export function holdRoutes(o: ResolvedHttpOptions): RouteSpec[] {
  return [
    {
      method: 'POST',
      url: `${ADMIN_PREFIX}/holds`,
      access: 'admin-write',
      schema: {
        operationId: 'placeHold',
        summary:
          'Place a legal hold on a file key (or the file of a job row), serialized with batches in flight: 201 means the file is protected (docs/safety.md#holds).',
        security: writeSecurity,
        headers: actorHeader,
        body: fields(
          { file_key: text(1024, { nonEmpty: true }), job_id: text(200, { nonEmpty: true }), reason: text(500, { nonEmpty: true }), until: text(40) },
          ['reason'],
        ),
        response: {
          201: json('Hold', 'The hold, with warnings (no row has the key, a key differing only in case). 404: no such job row (or the admin API is disabled).'),
          410: errorResponse('The file was already erased (the message names the run and the time).'),
          ...bodyErrors,
          ...adminErrors,
        },
      },
      handler: async (request, reply) => {
        const caller = callerOf(request, request.authenticated);
        const body = request.body as { file_key?: string; job_id?: string; reason: string; until?: string };
        const fileKey = body.file_key;
        const jobId = body.job_id;
        if ((fileKey === undefined) === (jobId === undefined)) throw badRequest('body: give either file_key or job_id, not both and not neither');
        const options = o.engine?.options;
        const table = await inspectJobsTable(o.pool, options?.jobs ?? DEFAULT_JOBS_TABLE);
        try {
          const hold = await placeHold(o.pool, table, {
            target: fileKey !== undefined ? { fileKey } : { jobId: jobId! },
            reason: body.reason,
            by: caller.label,
            ...(body.until === undefined ? {} : { until: body.until }),
            ...(options ? { ledgerKey: (k: string) => ledgerKeyFor(options, k) } : {}),
          });
          o.logger.warn({ by: caller.label, holdId: hold.id }, 'admin: legal hold placed');
          return await reply.code(201).send(hold);
        } catch (error) {
          if (error instanceof ConfigError) throw badRequest(`body.${error.message}`);
          // The rest by the engine's error table (GONE 410, NOT_FOUND 404).
          throw fromEngineError(error) ?? error;
        }
      },
    },
  ];
}
