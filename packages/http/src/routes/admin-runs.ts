import { getRun, listRuns } from '@lethe/engine/operations';
import { HttpError, HttpErrorCodes } from '../errors.js';
import { adminErrors, errorResponse, json, readSecurity } from '../openapi.js';
import type { ResolvedHttpOptions } from '../options.js';
import { fields, flag, integer } from '../request-schemas.js';
import type { RouteSpec } from '../route-spec.js';
import { runDetailJson, runJson } from '../run-json.js';
import { ADMIN_PREFIX } from './admin-control.js';

/** Runbook OP-004 (history) and FM-002 (a run's failures grouped by code). */
export function runRoutes(o: ResolvedHttpOptions): RouteSpec[] {
  return [
    {
      method: 'GET',
      url: `${ADMIN_PREFIX}/runs`,
      access: 'admin-read',
      schema: {
        operationId: 'listRuns',
        summary: 'Run history, newest first (runbook OP-004).',
        security: readSecurity,
        querystring: fields({ limit: integer(1, 100, 10), include_dry_runs: flag() }),
        response: { 200: json('RunList', 'Runs.'), 400: errorResponse('Bad query parameter.'), ...adminErrors },
      },
      handler: async (request, reply) => {
        const q = request.query as { limit?: number; include_dry_runs?: boolean };
        const runs = await listRuns(o.pool, { limit: q.limit ?? 10, includeDryRuns: q.include_dry_runs === true });
        return reply.send({ runs: runs.map(runJson) });
      },
    },
    {
      method: 'GET',
      url: `${ADMIN_PREFIX}/runs/:id`,
      access: 'admin-read',
      schema: {
        operationId: 'getRun',
        summary: 'One run with its summary and its failures grouped by code (runbook FM-002).',
        security: readSecurity,
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', format: 'uuid', description: 'a run id (a UUID)' } } },
        querystring: fields({}),
        response: { 200: json('RunDetail', 'The run.'), 400: errorResponse('Not a run id.'), ...adminErrors },
      },
      handler: async (request, reply) => {
        const { id } = request.params as { id: string };
        const detail = await getRun(o.pool, id);
        if (!detail) throw new HttpError(404, HttpErrorCodes.NOT_FOUND, `no run with id ${id}`);
        return reply.send(runDetailJson(detail));
      },
    },
  ];
}
