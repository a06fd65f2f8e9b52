import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, silentLogger, type Engine } from '@lethe/engine';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { startService, type Running } from './support.js';

/**
 * EMERGENCY-001 typed as an on-call engineer types it: `curl -d` sends
 * application/x-www-form-urlencoded. A 415 there left Lethe running while curl exited 0.
 */
const run = promisify(execFile);
const TOKEN = 'curl-admin-token-for-tests-0123';
const ADMIN = '/api/admin/cleanup';
let db: TestDatabase;
let engine: Engine;
let http: Running;

async function curl(...args: string[]): Promise<{ status: number; body: any }> {
  const { stdout } = await run('curl', ['-sS', '-w', '\n%{http_code}', '-H', `Authorization: Bearer ${TOKEN}`, ...args]);
  const lines = stdout.trimEnd().split('\n');
  const status = Number(lines.pop());
  return { status, body: JSON.parse(lines.join('\n')) };
}

const paused = async (): Promise<boolean> => (await db.pool.query<{ paused: boolean }>('SELECT paused FROM lethe_control')).rows[0]!.paused;

beforeAll(async () => {
  db = await createTestDatabase('http_admin_curl');
  await createJobsTable(db.pool);
  engine = createEngine({ pool: db.pool, threads: 1 });
  await engine.migrate();
  http = await startService({ pool: db.pool, logger: silentLogger, version: 'test', engine, adminToken: TOKEN });
});

afterAll(async () => {
  await http?.close();
  await engine?.close();
  await db?.drop();
});

describe('pause and resume with a plain curl command line (EMERGENCY-001)', () => {
  it('curl -X POST -d \'{"reason":...}\' (a form content type) pauses; resume with no body resumes', async () => {
    const p = await curl('-X', 'POST', '-d', '{"reason":"INC-1: wrong policy"}', `${http.base}${ADMIN}/pause`);
    expect(p.status).toBe(200);
    expect(p.body.paused).toBe(true);
    expect(p.body.reason).toBe('INC-1: wrong policy');
    expect(await paused()).toBe(true);

    const r = await curl('-X', 'POST', `${http.base}${ADMIN}/resume`);
    expect(r.status).toBe(200);
    expect(r.body.paused).toBe(false);
    expect(await paused()).toBe(false);
  });

  it('any content type is read as JSON; resume takes a reason the same way', async () => {
    const p = await curl('-X', 'POST', '-H', 'Content-Type: text/plain', '-d', '{"reason":"INC-2"}', `${http.base}${ADMIN}/pause`);
    expect(p.status).toBe(200);
    expect(await paused()).toBe(true);
    const r = await curl('-X', 'POST', '-d', '{"reason":"INC-2 fixed"}', `${http.base}${ADMIN}/resume`);
    expect(r.status).toBe(200);
    expect(await paused()).toBe(false);
  });

  it('pause still needs a reason, and a form body is a 400 that says to send JSON', async () => {
    const none = await curl('-X', 'POST', `${http.base}${ADMIN}/pause`);
    expect(none.status).toBe(400);
    expect(none.body.error.message).toMatch(/body\.reason: required/);
    const form = await curl('-X', 'POST', '-d', 'reason=INC-3', `${http.base}${ADMIN}/pause`);
    expect(form.status).toBe(400);
    expect(form.body.error.code).toBe('LETHE_E_HTTP_BAD_JSON');
    expect(form.body.error.message).toMatch(/expected a JSON object like \{"reason": "\.\.\."\}; it was sent as application\/x-www-form-urlencoded/);
    expect(await paused()).toBe(false);
  });

  it('other routes keep 415 for a body that is not application/json', async () => {
    const a = await curl('-X', 'POST', '-d', '{"dryRun":true}', `${http.base}${ADMIN}/runs`);
    expect(a.status).toBe(415);
    expect(a.body.error.code).toBe('LETHE_E_HTTP_UNSUPPORTED_MEDIA_TYPE');
  });
});
