import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { createEngine, silentLogger, type Engine } from '@lethe/engine';
import { createBackgroundRuns, createHttpService, type BackgroundRuns, type HttpService } from '@lethe/http';
import { createJobsTable, createTestDatabase, insertJobs, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';
import { beat, inject, type Answer, type CallOptions } from './support.js';

const UTC_NOW = `(now() AT TIME ZONE 'UTC')`;
const TOKEN = 'openapi-token';
const ADMIN = '/api/admin/cleanup';
/** The HTML pages (status page, report): read routes outside /api/admin. */
const PAGES = ['/', '/report'];
/** Where the document's `#/components/...` pointers resolve in ajv. */
const DOC_ID = 'https://lethe.invalid/api/openapi.json';
let db: TestDatabase;
let files: TempRoot;
let engine: Engine;
let runs: BackgroundRuns;
let http: HttpService;
let closed: HttpService;
/** The document as the service serves it (generated from the route schemas). */
let doc: Record<string, any>;
let ajv: Ajv2020;
/** Operations (`get /path/{id}`) and the statuses seen for each. */
const seen = new Map<string, Set<string>>();

beforeAll(async () => {
  db = await createTestDatabase('http_openapi');
  files = await createTempRoot('http-openapi');
  await createJobsTable(db.pool);
  // With an undo window, so the restore route can answer 200 (docs/safety.md#undo-window-default-off).
  engine = createEngine({ pool: db.pool, storage: `file://${files.root}`, threads: 1, undoWindow: '7d' });
  await engine.migrate();
  runs = createBackgroundRuns(engine, { logger: silentLogger });
  // No sockets: every call here goes through fastify's inject().
  http = createHttpService({ pool: db.pool, logger: silentLogger, version: 'test', engine, adminToken: TOKEN, triggerRun: runs.triggerRun, metricsCacheMs: 0 });
  closed = createHttpService({ pool: db.pool, logger: silentLogger, version: 'test' });
  doc = (await inject(http, '/api/openapi.json')).json;
  // Real answers are checked by a JSON Schema 2020-12 validator (OpenAPI 3.1's dialect) against
  // the served document; strict off because the document's own keywords (openapi, paths) are not
  // JSON Schema.
  ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema({ ...doc, $id: DOC_ID });
});

afterAll(async () => {
  await runs?.idle();
  await http?.idle();
  await http?.close();
  await closed?.close();
  await engine?.close();
  await files?.remove();
  await db?.drop();
});

/** The operation a concrete path belongs to, by the document's path templates. */
function operationOf(method: string, path: string): { key: string; op: Record<string, any> } {
  const pathname = new URL(path, 'http://x').pathname;
  for (const [template, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
    const re = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    if (re.test(pathname) && item[method.toLowerCase()]) return { key: `${method.toLowerCase()} ${template}`, op: item[method.toLowerCase()] };
  }
  throw new Error(`${method} ${pathname} is not in the OpenAPI document`);
}

const validators = new Map<string, ValidateFunction>();
/** A validator for a media schema of the document: a `#/components/...` $ref or an inline schema. */
function validatorOf(schema: Record<string, any>): ValidateFunction {
  const key = JSON.stringify(schema);
  let v = validators.get(key);
  if (!v) {
    v = typeof schema.$ref === 'string' ? ajv.compile({ $ref: `${DOC_ID}${schema.$ref}` }) : ajv.compile(schema);
    validators.set(key, v);
  }
  return v;
}

/** Calls the service and checks the answer against the document: status documented, body valid. */
async function conform(path: string, o: CallOptions & { on?: HttpService } = {}): Promise<Answer> {
  const method = o.method ?? (o.body === undefined ? 'GET' : 'POST');
  const a = await inject(o.on ?? http, path, o);
  const { key, op } = operationOf(method, path);
  const response = op.responses[String(a.status)];
  expect(response, `${method} ${path} answered ${a.status}, which the document does not list for ${key}`).toBeDefined();
  const [mediaType, media] = Object.entries(response.content ?? {})[0] as [string, { schema: Record<string, any> }];
  expect(a.headers['content-type'], `${key} ${a.status}`).toContain(mediaType);
  if (mediaType === 'application/json') {
    const validate = validatorOf(media.schema);
    expect(validate(a.json) ? [] : validate.errors, `${method} ${path} ${a.status}`).toEqual([]);
  }
  if (!seen.has(key)) seen.set(key, new Set());
  seen.get(key)!.add(String(a.status));
  return a;
}

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1, every component compiles and every $ref resolves', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const names = Object.keys(doc.components.schemas);
    expect(names).toEqual(
      expect.arrayContaining([
        'Error',
        'Health',
        'Run',
        'RunList',
        'RunDetail',
        'LedgerLookup',
        'Report',
        'Hold',
        'ErasureRequest',
        'ErasureSubmitted',
        'ErasureRequestList',
        'ErasureRequestDetail',
      ]),
    );
    for (const op of ['submitErasureRequest', 'listErasureRequests', 'getErasureRequest']) {
      expect(
        Object.values(doc.paths as Record<string, Record<string, { operationId?: string }>>).flatMap((item) => Object.values(item).map((o) => o.operationId)),
        op,
      ).toContain(op);
    }
    expect(doc.components.schemas.Health.required).toContain('overdue_requests');
    // Compiling resolves every $ref inside (ajv throws on a missing one).
    for (const name of names) expect(() => validatorOf({ $ref: `#/components/schemas/${name}` }), name).not.toThrow();
    await conform('/api/openapi.json');
    // Nothing internal leaks into the document: no 405-only routes, no HEAD twins.
    for (const item of Object.values(doc.paths as Record<string, Record<string, unknown>>))
      expect(Object.keys(item).every((m) => m === 'get' || m === 'post')).toBe(true);
  });

  it('says every body and query refuses unknown fields, and the service does refuse them', async () => {
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(item)) {
        const body = op.requestBody?.content?.['application/json']?.schema;
        if (body) {
          expect(body.additionalProperties, `${method} ${path} body`).toBe(false);
          expect(op.requestBody.required, `${method} ${path}: a body is required when a field is`).toBe((body.required ?? []).length > 0);
          const a = await inject(http, path, { method: method.toUpperCase() as 'POST', token: TOKEN, body: { ...minimalBody(body), typo_field: true } });
          expect([a.status, a.json.error.message], `${method} ${path}`).toEqual([400, expect.stringMatching(/^body\.typo_field: unknown field; expected /)]);
        }
        if ((op.parameters ?? []).some((p: { in: string }) => p.in === 'query') && !path.includes('{')) {
          const required = (op.parameters as { in: string; name: string; required?: boolean }[]).filter((p) => p.in === 'query' && p.required);
          const query = new URLSearchParams([...required.map((p): [string, string] => [p.name, VALID[p.name] ?? 'x']), ['typo_param', '1']]);
          const a = await inject(http, `${path}?${query}`, { token: TOKEN });
          expect([a.status, a.json.error.message], `${method} ${path}`).toEqual([
            400,
            expect.stringMatching(/^query\.typo_param: unknown parameter; expected /),
          ]);
        }
      }
    }
    expect((await db.pool.query('SELECT paused FROM lethe_control')).rows[0]?.paused ?? false).toBe(false);
  });

  it('says every admin route and page needs the bearer token, and health, probes, metrics and itself none', () => {
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, { security?: unknown }>>)) {
      for (const [method, op] of Object.entries(item)) {
        if (path.startsWith('/api/admin/') || PAGES.includes(path)) expect(op.security, `${method} ${path}`).toEqual([{ bearerAuth: [] }]);
        else expect(op.security, `${method} ${path}`).toBeUndefined();
      }
    }
  });

  it('matches the real responses of every route', async () => {
    await conform('/api/health/cleanup');
    await conform('/livez');
    await conform('/readyz');
    await conform('/metrics');

    await insertJobs(db.pool, [
      { id: 'o-1', fileKey: 'o/1.pdf', purpose: 'System Testing', createdAtSql: `${UTC_NOW} - interval '25 hours'` },
      { id: 'o-2', fileKey: 'o/2.pdf', purpose: 'Legal', createdAtSql: `${UTC_NOW} - interval '1 day'` },
      { id: 'o-3', fileKey: 'o/3.pdf', purpose: 'Marketing', createdAtSql: `${UTC_NOW} - interval '1 day'` },
    ]);
    await files.put('o/1.pdf');
    await files.put('o/2.pdf');
    await beat(db.pool);

    await conform(`${ADMIN}/pause`, { token: TOKEN, actor: 'oncall', body: { reason: 'openapi test' } });
    await conform(`${ADMIN}/runs`, { token: TOKEN, body: {} }); // 409 paused
    await conform(`${ADMIN}/resume`, { token: TOKEN, method: 'POST' });
    const started = await conform(`${ADMIN}/runs`, { token: TOKEN, body: { dryRun: false, allowLarge: false } });
    await runs.idle();
    await conform('/api/health/cleanup');
    await conform(`${ADMIN}/runs`, { token: TOKEN });
    await conform(`${ADMIN}/runs?limit=2&include_dry_runs=true`, { token: TOKEN });
    await conform(`${ADMIN}/runs/${started.json.run_id}`, { token: TOKEN });
    await conform(`${ADMIN}/runs/00000000-0000-4000-8000-000000000000`, { token: TOKEN }); // 404
    await conform(`${ADMIN}/runs/nope`, { token: TOKEN }); // 400
    await conform(`${ADMIN}/runs?limit=0`, { token: TOKEN }); // 400
    await conform(`${ADMIN}/ledger?file_key=o/1.pdf`, { token: TOKEN });
    await conform(`${ADMIN}/ledger?file_key=o/2.pdf`, { token: TOKEN });
    await conform(`${ADMIN}/ledger?file_key=o/3.pdf`, { token: TOKEN });
    await conform(`${ADMIN}/ledger`, { token: TOKEN }); // 400
    await conform(`${ADMIN}/report?month=${new Date().toISOString().slice(0, 7)}`, { token: TOKEN });
    await conform(`${ADMIN}/report?month=2020-01`, { token: TOKEN });
    await conform(`${ADMIN}/report?month=13`, { token: TOKEN }); // 400
    const restored = await conform(`${ADMIN}/restore`, { token: TOKEN, actor: 'oncall', body: { file_key: 'o/1.pdf', hold_reason: 'user report 7' } });
    expect(restored.status).toBe(200);
    expect(await files.exists('o/1.pdf')).toBe(true);
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM jobs WHERE id = 'o-1'`)).rows[0].n).toBe(1);
    expect((await conform(`${ADMIN}/restore`, { token: TOKEN, body: { file_key: 'never/was.pdf' } })).status).toBeGreaterThanOrEqual(404);
    await conform(`${ADMIN}/restore`, { token: TOKEN, body: { file_key: '../etc/passwd' } }); // 400
    await conform(`${ADMIN}/restore`, { token: TOKEN, body: {} }); // 400
    expect((await conform(`${ADMIN}/holds`, { token: TOKEN, actor: 'legal', body: { file_key: 'o/2.pdf', reason: 'litigation' } })).status).toBe(201);
    await conform(`${ADMIN}/holds`, { token: TOKEN, body: { job_id: 'nope', reason: 'x' } }); // 404
    await conform(`${ADMIN}/holds`, { token: TOKEN, body: { file_key: '../x', reason: 'x' } }); // 400

    // Erasure requests (docs/rights.md#over-http): 201, 200 (same reference), 409 (another target), show, list.
    const erasure = { reference: 'DPO-OPENAPI-1', target: { kind: 'job', values: ['o-4'] }, requested_by: 'a data principal', reason: 'request' };
    await insertJobs(db.pool, [{ id: 'o-4', fileKey: 'o/4.pdf', purpose: 'General', createdAtSql: `${UTC_NOW} - interval '1 day'` }]);
    await files.put('o/4.pdf');
    const submitted = await conform(`${ADMIN}/erasures`, { token: TOKEN, actor: 'dpo', body: erasure });
    expect(submitted.status).toBe(201);
    await http.idle();
    expect((await conform(`${ADMIN}/erasures`, { token: TOKEN, body: erasure })).status).toBe(200);
    expect((await conform(`${ADMIN}/erasures`, { token: TOKEN, body: { ...erasure, target: { kind: 'job', values: ['o-2'] } } })).status).toBe(409);
    await conform(`${ADMIN}/erasures`, { token: TOKEN, body: { ...erasure, reason: 'x' } }); // 400
    await conform(`${ADMIN}/erasures`, { body: erasure }); // 401
    expect((await conform(submitted.json.location, { token: TOKEN })).json.request.state).toBe('completed');
    await conform(`${ADMIN}/erasures/DPO-NOPE`, { token: TOKEN }); // 404
    await conform(`${ADMIN}/erasures?state=all&limit=5`, { token: TOKEN });
    await conform(`${ADMIN}/erasures?state=late`, { token: TOKEN }); // 400
    await conform('/api/health/cleanup');

    await conform(`${ADMIN}/pause`, { body: { reason: 'no token' } }); // 401
    await conform(`${ADMIN}/pause`, { token: TOKEN, body: '{' }); // 400
    await conform(`${ADMIN}/pause`, { token: TOKEN, body: 'reason=x', headers: { 'content-type': 'text/plain' } }); // 400: read as JSON whatever the type
    await conform(`${ADMIN}/runs`, { token: TOKEN, body: '{"dryRun":true}', headers: { 'content-type': 'text/plain' } }); // 415
    await conform(`${ADMIN}/pause`, { token: TOKEN, body: { reason: 'x'.repeat(17_000) } }); // 413
    await conform(`${ADMIN}/resume`, { token: TOKEN, body: { paused: false } }); // 400
    await conform(`${ADMIN}/runs`, { on: closed, token: TOKEN, body: {} }); // 404: admin API disabled
    await conform(`${ADMIN}/runs`, { on: closed }); // 404
    await conform(`${ADMIN}/ledger?file_key=o/1.pdf`, { on: closed }); // 404: admin API disabled
    // Reads disclose file keys and runs: 401 without the token, as documented.
    expect((await conform(`${ADMIN}/ledger?file_key=o/1.pdf`)).status).toBe(401);
    expect((await conform(`${ADMIN}/runs/${started.json.run_id}`)).status).toBe(401);
    expect((await conform(`${ADMIN}/runs`)).status).toBe(401);
    expect((await conform(`${ADMIN}/report?month=2020-01`)).status).toBe(401);
    // The read-only pages (HTML), behind the same read token.
    expect((await conform('/', { token: TOKEN })).status).toBe(200);
    expect((await conform('/report', { token: TOKEN })).status).toBe(200);
    expect((await conform('/report?month=2020-01', { token: TOKEN })).status).toBe(200);
    await conform('/report?month=2020-13', { token: TOKEN }); // 400
    expect((await conform('/')).status).toBe(401);
    expect((await conform('/report')).status).toBe(401);
    expect((await conform('/', { on: closed })).status).toBe(404);

    // Every operation of the document was exercised, and answered with a 2xx at least once.
    const operations = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, item]) => Object.keys(item).map((m) => `${m} ${p}`));
    expect([...seen.keys()].sort()).toEqual(operations.sort());
    for (const [key, statuses] of seen)
      expect(
        [...statuses].some((s) => s.startsWith('2')),
        key,
      ).toBe(true);
  });
});

/** Valid values of the fields whose schema wants more than any text. */
const VALID: Record<string, string> = { month: '2020-01' };

/** A body with each required field set to a valid value (so only the extra field is wrong). */
function minimalBody(schema: { required?: string[] }): Record<string, string> {
  return Object.fromEntries((schema.required ?? []).map((name) => [name, VALID[name] ?? 'x']));
}
