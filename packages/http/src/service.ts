import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_JOBS_TABLE } from '@lethe/engine';
import { checkBearer, digest } from './auth.js';
import { HttpError, HttpErrorCodes, notFound } from './errors.js';
import { jobsTableResolver } from './backlog.js';
import { ServiceMetrics } from './metrics.js';
import { resolveHttpOptions, type HttpService, type HttpServiceOptions, type ResolvedHttpOptions } from './options.js';
import { sendError } from './respond.js';
import { Router, type Access } from './router.js';
import { registerControlRoutes } from './routes/admin-control.js';
import { registerRecordRoutes } from './routes/admin-records.js';
import { registerHoldRoutes } from './routes/admin-holds.js';
import { registerRestoreRoutes } from './routes/admin-restore.js';
import { registerRunRoutes } from './routes/admin-runs.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerMetaRoutes } from './routes/meta.js';

interface ServiceState {
  readonly o: ResolvedHttpOptions;
  readonly router: Router;
  /** SHA-256 of the admin token; null disables the admin API (404, never open). */
  readonly tokenDigest: Buffer | null;
}

export function createHttpService(options: HttpServiceOptions): HttpService {
  const o = resolveHttpOptions(options);
  const jobsTable = jobsTableResolver(o.pool, o.engine?.options.jobs ?? DEFAULT_JOBS_TABLE);
  const metrics = new ServiceMetrics(o, jobsTable);
  const router = new Router();
  // Health still answers when the jobs table cannot be read (failed_last_24h then skips its row check).
  registerHealthRoutes(router, o, () => jobsTable().catch(() => null));
  registerMetaRoutes(router, metrics);
  registerControlRoutes(router, o);
  registerRunRoutes(router, o);
  registerRecordRoutes(router, o);
  registerRestoreRoutes(router, o);
  registerHoldRoutes(router, o);
  const state: ServiceState = { o, router, tokenDigest: o.adminToken === null ? null : digest(o.adminToken) };
  if (o.adminToken !== null && !o.protectReads) {
    o.logger.warn({ protectReads: false }, 'http: admin read routes (runs, ledger lookup, report) are open without the token: they disclose file keys and runs');
  }
  const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 }, (req, res) => {
    void handle(state, req, res);
  });
  return {
    listen: (port, host) => listen(server, port, host),
    close: () => close(server),
    observeRun: (summary) => metrics.observeRun(summary),
  };
}

async function handle(s: ServiceState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (isAdminPath(url.pathname) && s.tokenDigest === null) throw notFound(`no route for ${url.pathname}`);
    const { handler, params, access } = s.router.match(req.method ?? 'GET', url.pathname);
    const authenticated = authenticate(s, req, access);
    await handler({ req, res, url, params, authenticated });
  } catch (error) {
    answerError(s.o, req, res, error);
  }
}

function isAdminPath(pathname: string): boolean {
  return pathname === '/api/admin' || pathname.startsWith('/api/admin/');
}

/**
 * Write routes always need the token; read routes too unless `protectReads: false` (they disclose
 * file keys and runs), and a token offered to an open read route is still checked. No token
 * configured: every admin route answers 404, never open.
 */
function authenticate(s: ServiceState, req: IncomingMessage, access: Access): boolean {
  if (access === 'public') return false;
  const digestOfToken = s.tokenDigest;
  if (digestOfToken === null) throw notFound();
  const required = access === 'admin-write' || s.o.protectReads;
  if (!required && req.headers.authorization === undefined) return false;
  checkBearer(req, digestOfToken);
  return true;
}

function answerError(o: ResolvedHttpOptions, req: IncomingMessage, res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    o.logger.error({ err: error, method: req.method, url: req.url }, 'http: error after the answer started');
    res.destroy();
    return;
  }
  if (error instanceof HttpError) {
    if (error.status >= 500) o.logger.warn({ code: error.code, method: req.method, url: req.url }, error.message);
    sendError(res, error.status, error.code, error.message, error.headers);
    return;
  }
  // Never a stack trace or a driver message to the caller: they go to the log.
  o.logger.error({ err: error, method: req.method, url: req.url }, 'http: internal error');
  sendError(res, 500, HttpErrorCodes.INTERNAL, 'internal error; see the service log');
}

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
