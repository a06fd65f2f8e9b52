import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { checkBearer, digest } from './auth.js';
import { useJsonBodies, useJsonBodiesOfAnyType } from './body-parsers.js';
import { clientErrorHandler, errorHandler, frameworkErrorHandler } from './error-answers.js';
import { HttpError, HttpErrorCodes, notFound } from './errors.js';
import { registerResponseSchemas, swaggerOptions } from './openapi.js';
import type { ResolvedHttpOptions } from './options.js';
import type { RouteSpec } from './route-spec.js';
import { convertQuery, formatValidationErrors } from './validation-errors.js';

/**
 * The fastify application: parsers, validation (ajv: no coercion, no removal of unknown fields,
 * defaults not filled in), access checks, error answers, the OpenAPI document and the routes.
 */
export function buildApp(o: ResolvedHttpOptions, routes: readonly RouteSpec[]): FastifyInstance {
  /** SHA-256 of the admin token; null disables the admin API (404, never open). */
  const tokenDigest = o.adminToken === null ? null : digest(o.adminToken);
  const app = Fastify({
    logger: false,
    bodyLimit: o.bodyLimitBytes,
    requestTimeout: 30_000,
    keepAliveTimeout: 5_000,
    // A long path parameter must reach the route's schema (a 400 naming it), not be a 414.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 2048 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false, verbose: true } },
    schemaErrorFormatter: formatValidationErrors,
    frameworkErrors: frameworkErrorHandler(o),
    clientErrorHandler,
  });
  app.server.headersTimeout = 10_000;
  // Response schemas document the answers (and openapi.test.ts checks real answers against them);
  // they never reshape one: fast-json-stringify would drop fields the schema does not list.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  registerResponseSchemas(app);
  useJsonBodies(app);
  app.decorateRequest('authenticated', false);
  app.addHook('onRequest', async (request) => guard(request, tokenDigest, o.protectReads));
  app.addHook('preValidation', async (request) => {
    convertQuery(request);
    // No body at all (curl -X POST): the same as {} (routes whose fields are all optional).
    if (request.body === undefined && request.routeOptions.schema?.body) request.body = {};
  });
  // Every answer here describes live state.
  app.addHook('onSend', async (_request, reply) => {
    void reply.header('cache-control', 'no-store').header('x-content-type-options', 'nosniff');
  });
  app.setErrorHandler(errorHandler(o));
  app.setNotFoundHandler(async (request) => {
    throw notFound(`no route for ${pathOf(request)}`);
  });
  void app.register(swagger, swaggerOptions);
  void app.register(async (scope) => {
    for (const r of routes) if (!r.anyContentType) add(scope, r);
    for (const [url, allow] of methodsByPath(routes)) addMethodNotAllowed(scope, url, allow);
  });
  void app.register(async (scope) => {
    useJsonBodiesOfAnyType(scope);
    for (const r of routes) if (r.anyContentType) add(scope, r);
  });
  return app;
}

function add(app: FastifyInstance, r: RouteSpec): void {
  app.route({ method: r.method, url: r.url, schema: r.schema, config: { access: r.access }, handler: r.handler });
}

/**
 * Write routes always need the token; read routes too unless `protectReads: false` (they disclose
 * file keys and runs), and a token offered to an open read route is still checked. No token
 * configured: every admin route answers 404, never open. Runs before the body is read.
 */
async function guard(request: FastifyRequest, tokenDigest: Buffer | null, protectReads: boolean): Promise<void> {
  const path = pathOf(request);
  if (tokenDigest === null && (path === '/api/admin' || path.startsWith('/api/admin/'))) throw notFound(`no route for ${path}`);
  const { access, allow } = request.routeOptions.config;
  if (allow !== undefined) {
    throw new HttpError(405, HttpErrorCodes.METHOD_NOT_ALLOWED, `method ${request.method} is not allowed here; use ${allow}`, { allow });
  }
  if (access === undefined || access === 'public') return;
  if (tokenDigest === null) throw notFound();
  const required = access === 'admin-write' || protectReads;
  if (!required && request.headers.authorization === undefined) return;
  checkBearer(request.headers, tokenDigest);
  request.authenticated = true;
}

function pathOf(request: FastifyRequest): string {
  const q = request.url.indexOf('?');
  return q === -1 ? request.url : request.url.slice(0, q);
}

/** Each path with the methods it has, as `Allow` says them (GET brings HEAD). */
function methodsByPath(routes: readonly RouteSpec[]): Map<string, string> {
  const byPath = new Map<string, Set<string>>();
  for (const r of routes) {
    const methods = byPath.get(r.url) ?? new Set<string>();
    methods.add(r.method);
    if (r.method === 'GET') methods.add('HEAD');
    byPath.set(r.url, methods);
  }
  return new Map([...byPath].map(([url, methods]) => [url, [...methods].sort().join(', ')]));
}

function addMethodNotAllowed(app: FastifyInstance, url: string, allow: string): void {
  const taken = new Set(allow.split(', '));
  // Every other method fastify knows answers 405 with `Allow`, not 404 (a method it does not know is a 404).
  const method = app.supportedMethods.filter((m) => !taken.has(m));
  // The guard answers 405 before any body is read; the handler is never reached.
  app.route({ method, url, exposeHeadRoute: false, schema: { hide: true }, config: { allow }, handler: async () => null });
}
