import { evaluateHealth, gatherHealthFacts, type HealthFacts, type HealthReport, type JobsTable } from '@lethe/engine';
import type { ResolvedHttpOptions } from '../options.js';
import { sendJson } from '../respond.js';
import type { Router } from '../router.js';

/**
 * Runbook "Health Check Endpoint": the runbook's five fields plus paused/reason and the reasons
 * behind a status other than healthy. 200 only when healthy, so probes and load balancers can
 * use it; Kubernetes liveness/readiness use /livez and /readyz so a pause never restarts a pod
 * (DESIGN "Health").
 */
export function registerHealthRoutes(router: Router, o: ResolvedHttpOptions, jobsTable: () => Promise<JobsTable | null>): void {
  router.add('GET', '/api/health/cleanup', async ({ res }) => {
    let facts: HealthFacts;
    try {
      facts = await gatherHealthFacts(o.pool, o.now(), o.staleAfterMs, await jobsTable());
    } catch (error) {
      // Without its database Lethe cannot run: that is unhealthy (503), not a server bug (500).
      o.logger.error({ err: error }, 'health: the database did not answer');
      sendJson(res, 503, { ...databaseDown(), version: o.version });
      return;
    }
    const report = evaluateHealth(facts, o.health);
    // The version answering (issue 9, EMERGENCY-003 "verify the old version runs").
    sendJson(res, report.status === 'healthy' ? 200 : 503, { ...report, version: o.version });
  });

  router.add('GET', '/livez', ({ res }) => {
    sendJson(res, 200, { status: 'ok' });
  });

  router.add('GET', '/readyz', async ({ res }) => {
    const checks = { database: await databaseAnswers(o), process: o.ready() };
    const ok = checks.database && checks.process;
    sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not_ready', checks });
  });
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
    status: 'unhealthy', last_run: null, last_success: null, last_run_status: null, next_run: null,
    deleted_last_24h: 0, failed_last_24h: 0, paused: false, scheduler_running: false, schedulers: 0,
    reasons: ['the database did not answer: state unknown (see the service log)'],
  };
}
