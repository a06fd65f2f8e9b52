import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_JOBS_TABLE } from '@lethe/engine';
import { buildApp } from './app.js';
import { createBackgroundErasures } from './background-erasures.js';
import { jobsTableResolver } from './backlog.js';
import { ServiceMetrics } from './metrics.js';
import { resolveHttpOptions, type HttpService, type HttpServiceOptions } from './options.js';
import { controlRoutes } from './routes/admin-control.js';
import { erasureRoutes } from './routes/admin-erasures.js';
import { holdRoutes } from './routes/admin-holds.js';
import { recordRoutes } from './routes/admin-records.js';
import { restoreRoutes } from './routes/admin-restore.js';
import { runRoutes } from './routes/admin-runs.js';
import { statusPageRoutes } from './routes/status-page.js';
import { healthRoutes } from './routes/health.js';
import { metaRoutes } from './routes/meta.js';

export function createHttpService(options: HttpServiceOptions): HttpService {
  const o = resolveHttpOptions(options);
  const jobsTable = jobsTableResolver(o.pool, o.engine?.options.jobs ?? DEFAULT_JOBS_TABLE);
  const metrics = new ServiceMetrics(o, jobsTable);
  // Erasure requests submitted here in mode immediate run in this process (docs/rights.md#over-http).
  const erasures = o.engine ? createBackgroundErasures(o.engine, o.logger, (summary) => metrics.observeRun(summary)) : null;
  const app = buildApp(o, [
    // Health still answers when the jobs table cannot be read (failed_last_24h then skips its row check).
    ...healthRoutes(o, () => jobsTable().catch(() => null)),
    ...metaRoutes(metrics, () => app.swagger()),
    ...controlRoutes(o),
    ...runRoutes(o),
    ...recordRoutes(o),
    ...restoreRoutes(o),
    ...holdRoutes(o),
    ...erasureRoutes(o, erasures),
    ...statusPageRoutes(o, () => jobsTable().catch(() => null)),
  ]);
  if (o.adminToken !== null && !o.protectReads) {
    o.logger.warn(
      { protectReads: false },
      'http: admin read routes (runs, ledger lookup, report, the status page and /report) are open without the token: they disclose file keys and runs',
    );
  }
  return {
    listen: async (port, host) => {
      await app.ready();
      return listen(app.server, port, host);
    },
    close: async () => {
      await close(app.server);
      // Request runs in flight stop at their next batch; their requests stay open for the next run.
      await erasures?.close();
      await app.close();
    },
    idle: async () => {
      await erasures?.idle();
    },
    observeRun: (summary) => metrics.observeRun(summary),
    inject: async (request) => app.inject(request),
  };
}

/** Node's own listen: no host means every interface (fastify's listen would pick localhost). */
function listen(server: Server, port: number, host?: string): Promise<{ port: number }> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve({ port: (server.address() as AddressInfo).port });
    });
  });
}

/** Stops accepting, lets requests in flight finish, and drops idle keep-alive sockets. */
function close(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeIdleConnections();
  });
}
