import { type JobsTable } from '@lethe/engine';
import { evaluateHealth, gatherHealthFacts, type HealthFacts, type HealthReport } from '@lethe/engine/operations';
import { errorResponse, json } from '../openapi.js';
import type { ResolvedHttpOptions } from '../options.js';
import type { RouteSpec } from '../route-spec.js';

/**
 * Runbook "Health Check Endpoint": the runbook's five fields plus paused/reason and the reasons
 * behind a status other than healthy. 200 only when healthy, so probes and load balancers can
 * use it; Kubernetes liveness/readiness use /livez and /readyz so a pause never restarts a pod
 * (DESIGN "Health").
 */
export function healthRoutes(o: ResolvedHttpOptions, jobsTable: () => Promise<JobsTable | null>): RouteSpec[] {
  return [
    {
      method: 'GET',
      url: '/api/health/cleanup',
      access: 'public',
      schema: {
        operationId: 'getCleanupHealth',
        summary: 'Runbook health check: 200 when healthy, 503 when degraded or unhealthy.',
        response: { 200: json('Health', 'Healthy.'), 503: json('Health', 'Degraded or unhealthy; `reasons` says why.'), 500: errorResponse('Internal error.') },
      },
      handler: async (_request, reply) => {
        let facts: HealthFacts;
        try {
          facts = await gatherHealthFacts(o.pool, o.now(), o.staleAfterMs, await jobsTable());
        } catch (error) {
          // Without its database Lethe cannot run: that is unhealthy (503), not a server bug (500).
          o.logger.error({ err: error }, 'health: the database did not answer');
          return reply.code(503).send({ ...databaseDown(), version: o.version });
        }
        const report = evaluateHealth(facts, o.health);
        // The version answering (EMERGENCY-003 "verify the old version runs").
        return reply.code(report.status === 'healthy' ? 200 : 503).send({ ...report, version: o.version });
      },
    },
    {
      method: 'GET',
      url: '/livez',
      access: 'public',
      schema: { operationId: 'liveness', summary: 'The process is up (Kubernetes liveness).', response: { 200: json('Liveness', 'Alive.') } },
      handler: async (_request, reply) => reply.send({ status: 'ok' }),
    },
    {
      method: 'GET',
      url: '/readyz',
      access: 'public',
      schema: {
        operationId: 'readiness',
        summary: 'The database answers and the process is ready (Kubernetes readiness). A pause does not make it unready.',
        response: { 200: json('Readiness', 'Ready.'), 503: json('Readiness', 'Not ready.') },
      },
      handler: async (_request, reply) => {
        const checks = { database: await databaseAnswers(o), process: o.ready() };
        const ok = checks.database && checks.process;
        return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', checks });
      },
    },
  ];
}

async function databaseAnswers(o: ResolvedHttpOptions): Promise<boolean> {
  try {
    await o.pool.query('SELECT 1');
    return true;
  } catch (error) {
    o.logger.warn({ err: error }, 'readiness: the database did not answer');
    return false;
  }
}

function databaseDown(): HealthReport {
  return {
    status: 'unhealthy',
    last_run: null,
    last_success: null,
    last_run_status: null,
    next_run: null,
    deleted_last_24h: 0,
    failed_last_24h: 0,
    paused: false,
    scheduler_running: false,
    schedulers: 0,
    overdue_requests: 0,
    restore_detected: false,
    reasons: ['the database did not answer: state unknown (see the service log)'],
  };
}
