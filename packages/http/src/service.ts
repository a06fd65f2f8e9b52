import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RunSummary } from '@lethe/engine';
import { HttpError, HttpErrorCodes } from './errors.js';
import { resolveHttpOptions, type HttpService, type HttpServiceOptions, type ResolvedHttpOptions } from './options.js';
import { sendError } from './respond.js';
import { Router } from './router.js';
import { registerHealthRoutes } from './routes/health.js';

export function createHttpService(options: HttpServiceOptions): HttpService {
  const o = resolveHttpOptions(options);
  const router = new Router();
  registerHealthRoutes(router, o);
  const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
    void handle(o, router, req, res);
  });
  return {
    listen: (port, host) => listen(server, port, host),
    close: () => close(server),
    observeRun: (_summary: RunSummary) => {},
  };
}

async function handle(o: ResolvedHttpOptions, router: Router, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const { handler, params } = router.match(req.method ?? 'GET', url.pathname);
    await handler({ req, res, url, params });
  } catch (error) {
    answerError(o, req, res, error);
  }
}

function answerError(o: ResolvedHttpOptions, req: IncomingMessage, res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    o.logger.error({ err: error, method: req.method, url: req.url }, 'http: error after the answer started');
    res.destroy();
    return;
  }
  if (error instanceof HttpError) {
    sendError(res, error.status, error.code, error.message, error.headers);
    return;
  }
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

function close(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeIdleConnections();
  });
}
