import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, silentLogger, type Engine } from '@lethe/engine';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { inject, startService, type Answer, type Running } from './support.js';

const TOKEN = 'bad-input-token';
const ADMIN = '/api/admin/cleanup';
let db: TestDatabase;
let engine: Engine;
let http: Running;
const logged: { level: string; obj: object; msg?: string }[] = [];
const logger = {
  info: () => {},
  debug: () => {},
  warn: (obj: object, msg?: string) => void logged.push({ level: 'warn', obj, ...(msg === undefined ? {} : { msg }) }),
  error: (obj: object, msg?: string) => void logged.push({ level: 'error', obj, ...(msg === undefined ? {} : { msg }) }),
  child: () => logger,
};

beforeAll(async () => {
  db = await createTestDatabase('http_bad_input');
  await createJobsTable(db.pool);
  engine = createEngine({ pool: db.pool });
  await engine.migrate();
  http = await startService({
    pool: db.pool,
    logger,
    version: 'test',
    engine,
    adminToken: TOKEN,
    triggerRun: async () => {
      throw new Error('boom: a driver message with secrets that must not reach the caller');
    },
  });
});

afterAll(async () => {
  await http?.close();
  await engine?.close();
  await db?.drop();
});

/** Every client mistake: a 4xx with `{ error: { code, message } }`, JSON, no stack trace. */
function expectClientError(a: Answer, status: number, code?: string): void {
  expect(a.status).toBe(status);
  expect(a.headers['content-type']).toMatch(/^application\/json/);
  expect(Object.keys(a.json)).toEqual(['error']);
  expect(Object.keys(a.json.error).sort()).toEqual(['code', 'message']);
  expect(a.json.error.code).toMatch(/^LETHE_E_/);
  if (code) expect(a.json.error.code).toBe(code);
  expect(a.text).not.toMatch(/\bat .+\.(ts|js):\d+/);
}

const pause = (body: unknown, headers: Record<string, string> = {}) => inject(http.service, `${ADMIN}/pause`, { token: TOKEN, body, headers });

describe('bodies', () => {
  it('malformed JSON is 400', async () => {
    expectClientError(await pause('{"reason": '), 400, 'LETHE_E_HTTP_BAD_JSON');
    expectClientError(await pause('{reason: "x"}'), 400, 'LETHE_E_HTTP_BAD_JSON');
  });

  it('a body that is not an object is 400', async () => {
    for (const body of ['[]', '"reason"', '42', 'null', 'true']) expectClientError(await pause(body), 400, 'LETHE_E_HTTP_BAD_REQUEST');
  });

  it('wrong types, empty or missing required fields, unknown fields are 400 naming the field', async () => {
    const cases: [unknown, RegExp][] = [
      [{ reason: 42 }, /body\.reason: expected a string/],
      [{ reason: '' }, /body\.reason: must not be empty/],
      [{ reason: '   ' }, /body\.reason: must not be empty/],
      [{}, /body\.reason: required/],
      [{ reason: 'x', by: 'mallory' }, /body\.by: unknown field/],
      [{ reason: 'x'.repeat(501) }, /body\.reason: longer than 500/],
      [{ reason: 'a\u0000b' }, /NUL/],
    ];
    for (const [body, message] of cases) {
      const a = await pause(body);
      expectClientError(a, 400);
      expect(a.json.error.message).toMatch(message);
    }
    const dry = await inject(http.service, `${ADMIN}/runs`, { token: TOKEN, body: { dryRun: 'yes' } });
    expectClientError(dry, 400);
    expect(dry.json.error.message).toMatch(/body\.dryRun: expected true or false/);
    const typo = await inject(http.service, `${ADMIN}/runs`, { token: TOKEN, body: { dryrun: true } });
    expectClientError(typo, 400);
    expect(typo.json.error.message).toMatch(/body\.dryrun: unknown field/);
    expect((await db.pool.query('SELECT paused FROM lethe_control')).rows[0].paused).toBe(false);
  });

  it('a non-JSON content type is 415, except on pause and resume, which read any body as JSON (EMERGENCY-001 with curl -d)', async () => {
    expectClientError(
      await inject(http.service, `${ADMIN}/runs`, { token: TOKEN, body: '{"dryRun":true}', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      415,
      'LETHE_E_HTTP_UNSUPPORTED_MEDIA_TYPE',
    );
    expectClientError(await pause('reason=x', { 'content-type': 'application/x-www-form-urlencoded' }), 400, 'LETHE_E_HTTP_BAD_JSON');
  });

  it('a body over the limit is 413, declared or streamed', async () => {
    expectClientError(await pause({ reason: 'x'.repeat(20_000) }), 413, 'LETHE_E_HTTP_BODY_TOO_LARGE');
    // Chunked, so no content-length: the limit is enforced while reading.
    const status = await rawRequest(
      http.base,
      [
        `POST ${ADMIN}/pause HTTP/1.1`,
        'Host: x',
        `Authorization: Bearer ${TOKEN}`,
        'Content-Type: application/json',
        'Transfer-Encoding: chunked',
        '',
        '',
      ].join('\r\n'),
      `${(20_000).toString(16)}\r\n${'x'.repeat(20_000)}\r\n0\r\n\r\n`,
    );
    expect(status).toMatch(/^HTTP\/1\.1 413/);
  });

  it('a bad X-Lethe-Actor header is 400', async () => {
    expectClientError(await inject(http.service, `${ADMIN}/pause`, { token: TOKEN, actor: 'x'.repeat(101), body: { reason: 'x' } }), 400);
    expectClientError(await inject(http.service, `${ADMIN}/pause`, { token: TOKEN, actor: 'a<script>', body: { reason: 'x' } }), 400);
  });
});

describe('queries and paths', () => {
  it('bad ids, months, limits and unknown parameters are 400', async () => {
    const cases: [string, RegExp][] = [
      [`${ADMIN}/runs/123`, /id: expected a run id/],
      [`${ADMIN}/runs/${'z'.repeat(36)}`, /id: expected a run id/],
      [`${ADMIN}/runs/${'z'.repeat(300)}`, /id: expected a run id/],
      [`${ADMIN}/runs?limit=0`, /query\.limit: expected an integer from 1 to 100/],
      [`${ADMIN}/runs?limit=101`, /query\.limit/],
      [`${ADMIN}/runs?limit=ten`, /query\.limit/],
      [`${ADMIN}/runs?limit=1&limit=2`, /given more than once/],
      [`${ADMIN}/runs?include_dry_runs=yes`, /expected true or false/],
      [`${ADMIN}/runs?sort=asc`, /query\.sort: unknown parameter/],
      [`${ADMIN}/report`, /query\.month: required/],
      [`${ADMIN}/report?month=2025-13`, /month: expected a month like/],
      [`${ADMIN}/report?month=2025-1`, /month/],
      [`${ADMIN}/report?month=nov`, /month/],
      [`${ADMIN}/report?month=2999-01`, /has not started yet/],
      [`${ADMIN}/ledger`, /query\.file_key: required/],
      [`${ADMIN}/ledger?file_key=`, /query\.file_key: must not be empty/],
      [`${ADMIN}/ledger?file_key=${'k'.repeat(1025)}`, /longer than 1024/],
      [`${ADMIN}/runs/%E0%A4%A`, /malformed percent-encoding/],
    ];
    for (const [path, message] of cases) {
      const a = await inject(http.service, path, { token: TOKEN });
      expectClientError(a, 400);
      expect(a.json.error.message, path).toMatch(message);
    }
  });

  it('an unknown route is a JSON 404; a wrong method is a JSON 405 with Allow', async () => {
    expectClientError(await inject(http.service, '/nope'), 404, 'LETHE_E_HTTP_NOT_FOUND');
    expectClientError(await inject(http.service, '/api/health'), 404);
    const m = await inject(http.service, '/api/health/cleanup', { method: 'POST', body: {} });
    expectClientError(m, 405, 'LETHE_E_HTTP_METHOD_NOT_ALLOWED');
    expect(m.headers.allow).toBe('GET, HEAD');
    const d = await inject(http.service, `${ADMIN}/runs`, { method: 'DELETE', token: TOKEN });
    expectClientError(d, 405);
    expect(d.headers.allow).toBe('GET, HEAD, POST');
    expect((await inject(http.service, `${ADMIN}/pause`, { token: TOKEN })).status).toBe(405);
  });

  it('headers over the limit are a JSON 431 (node refuses them before any route)', async () => {
    const answer = await rawAnswer(http.base, ['GET /livez HTTP/1.1', 'Host: x', `X-Padding: ${'p'.repeat(20_000)}`, '', ''].join('\r\n'));
    expect(answer.split('\r\n')[0]).toMatch(/^HTTP\/1\.1 431/);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
      error: { code: 'LETHE_E_HTTP_HEADERS_TOO_LARGE', message: expect.stringMatching(/^headers: larger than the limit/) },
    });
  });

  it('HEAD is answered by GET routes without a body', async () => {
    const h = await inject(http.service, '/livez', { method: 'HEAD' });
    expect(h.status).toBe(200);
    expect(h.text).toBe('');
  });
});

describe('internal errors', () => {
  it('are a generic 500 JSON, logged, with nothing of the error in the answer', async () => {
    logged.length = 0;
    const a = await inject(http.service, `${ADMIN}/runs`, { token: TOKEN, body: { dryRun: true } });
    expect(a.status).toBe(500);
    expect(a.json).toEqual({ error: { code: 'LETHE_E_HTTP_INTERNAL', message: 'internal error; see the service log' } });
    expect(a.text).not.toMatch(/boom|secrets/);
    expect(logged.some((l) => l.level === 'error' && String((l.obj as { err?: Error }).err?.message).includes('boom'))).toBe(true);
  });
});

/** Sends raw bytes and returns the whole answer, once the server has closed the connection. */
function rawAnswer(base: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      data += chunk;
    });
    socket.on('error', (error) => (data ? resolve(data) : reject(error)));
    socket.on('close', () => resolve(data));
  });
}

/** Sends raw bytes (for framings undici will not produce) and returns the status line. */
function rawRequest(base: string, head: string, body: string): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(head);
      socket.write(body);
    });
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      data += chunk;
      if (data.includes('\r\n')) {
        socket.destroy();
        resolve(data.split('\r\n')[0]!);
      }
    });
    socket.on('error', (error) => (data ? resolve(data.split('\r\n')[0]!) : reject(error)));
    socket.on('close', () => resolve(data.split('\r\n')[0] ?? ''));
  });
}
