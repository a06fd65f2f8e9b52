import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, silentLogger, type Engine } from '@lethe/engine';
import { createJobsTable, createTestDatabase, insertJobs, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';
import { beat, inject, startService, type Running } from './support.js';

/**
 * Erasure requests over HTTP (docs/rights.md#over-http): submit (idempotent by reference, mode
 * immediate runs it in the background), list, show with the completion record; the overdue figure
 * in the health JSON and on /metrics. Real Postgres, real files, fastify's inject().
 */
const TOKEN = 'erasure-route-admin-token';
const ERASURES = '/api/admin/cleanup/erasures';
const UTC_NOW = `(now() AT TIME ZONE 'UTC')`;
let db: TestDatabase;
let files: TempRoot;
let engine: Engine;
let nextRunEngine: Engine;
let http: Running;
let nextRun: Running;

beforeAll(async () => {
  db = await createTestDatabase('http_erasures');
  files = await createTempRoot('http-erasures');
  await createJobsTable(db.pool);
  engine = createEngine({ pool: db.pool, storage: `file://${files.root}`, threads: 1 });
  await engine.migrate();
  // The same database, served by an engine whose requests wait for the next full run.
  nextRunEngine = createEngine({ pool: db.pool, storage: `file://${files.root}`, threads: 1, erasure: { mode: 'next-run' } });
  await beat(db.pool);
  http = await startService({ pool: db.pool, logger: silentLogger, version: 'test', engine, adminToken: TOKEN, metricsCacheMs: 0 });
  nextRun = await startService({ pool: db.pool, logger: silentLogger, version: 'test', engine: nextRunEngine, adminToken: TOKEN, metricsCacheMs: 0 });
  // Rows that are not expired (1 day old, General keeps 30 days): a request erases them anyway.
  await insertJobs(db.pool, [
    { id: 'e-1', fileKey: 'e/1.pdf', purpose: 'General', createdAtSql: `${UTC_NOW} - interval '1 day'` },
    { id: 'e-2', fileKey: 'e/2.pdf', purpose: 'General', createdAtSql: `${UTC_NOW} - interval '1 day'` },
    { id: 'e-3', fileKey: 'e/3.pdf', purpose: 'General', createdAtSql: `${UTC_NOW} - interval '1 day'` },
    { id: 'e-4', fileKey: 'e/4.pdf', purpose: 'General', createdAtSql: `${UTC_NOW} - interval '1 day'` },
  ]);
  for (const k of ['e/1.pdf', 'e/2.pdf', 'e/3.pdf', 'e/4.pdf']) await files.put(k);
});

afterAll(async () => {
  await http?.close();
  await nextRun?.close();
  await engine?.close();
  await nextRunEngine?.close();
  await files?.remove();
  await db?.drop();
});

const body = (reference: string, values: string[], extra: Record<string, unknown> = {}) => ({
  reference,
  target: { kind: 'job', values },
  requested_by: 'Asha R. (data principal)',
  reason: 'consent-withdrawn',
  ...extra,
});
const jobExists = async (id: string) => (await db.pool.query('SELECT 1 FROM jobs WHERE id = $1', [id])).rowCount === 1;

describe('POST /api/admin/cleanup/erasures', () => {
  it('stores a request (201), runs it in the background in mode immediate, and the location shows it completed with its record', async () => {
    const a = await inject(http.service, ERASURES, { token: TOKEN, actor: 'dpo:asha', body: body('DPO-2026-0142', ['e-1'], { note: 'ticket via email' }) });
    expect(a.status).toBe(201);
    expect(a.json).toMatchObject({ created: true, run: 'started', location: `${ERASURES}/DPO-2026-0142` });
    expect(a.json.request).toMatchObject({
      reference: 'DPO-2026-0142',
      target_kind: 'job',
      target_values: ['e-1'],
      submitted_by: 'http:dpo:asha',
      reason: 'consent-withdrawn',
      note: 'ticket via email',
      state: 'open',
      overdue: false,
    });
    expect(a.headers.location).toBe(`${ERASURES}/DPO-2026-0142`);
    await http.service.idle();
    const shown = await inject(http.service, a.json.location, { token: TOKEN });
    expect(shown.status).toBe(200);
    expect(shown.json.request).toMatchObject({ reference: 'DPO-2026-0142', state: 'completed', seconds_left: null });
    expect(shown.json.request.last_run_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(shown.json.record).toMatchObject({ reference: 'DPO-2026-0142', state: 'completed', rows_erased: 1, files_erased: 1, held_rows: 0, retained: [] });
    expect(shown.json.record.runs).toEqual([shown.json.request.last_run_id]);
    expect(await jobExists('e-1')).toBe(false);
    expect(await files.exists('e/1.pdf')).toBe(false);
    // Nothing else went with it.
    expect(await jobExists('e-2')).toBe(true);
    expect(await files.exists('e/2.pdf')).toBe(true);
    const audit = await db.pool.query(`SELECT details FROM audit_logs WHERE action = 'cleanup_erasure_requested' AND details->>'reference' = 'DPO-2026-0142'`);
    expect(audit.rows.map((r) => r.details.by)).toEqual(['http:dpo:asha']);
  });

  it('is idempotent by reference (200, the stored request, no second run) and refuses the reference for another target (409)', async () => {
    const again = await inject(http.service, ERASURES, { token: TOKEN, body: body('DPO-2026-0142', ['e-1']) });
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({
      created: false,
      run: 'none',
      request: { reference: 'DPO-2026-0142', state: 'completed', submitted_by: 'http:dpo:asha' },
    });
    const other = await inject(http.service, ERASURES, { token: TOKEN, body: body('DPO-2026-0142', ['e-2']) });
    expect(other.status).toBe(409);
    expect(other.json.error).toMatchObject({ code: 'LETHE_E_REQUEST_CONFLICT', message: expect.stringMatching(/^body\.reference: .*another target/) });
    expect(await jobExists('e-2')).toBe(true);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM lethe_erasure_requests WHERE reference = 'DPO-2026-0142'`);
    expect(rows[0].n).toBe(1);
  });

  it('refuses bad input with a JSON 400 naming the field, and stores nothing', async () => {
    const cases: [Record<string, unknown>, RegExp, string?][] = [
      [{ ...body('B-1', ['e-2']), extra: 1 }, /^body\.extra: unknown field; expected reference, target, requested_by, reason, due_at, note$/],
      [{ ...body('B-1', ['e-2']), target: { kind: 'job', values: ['e-2'], typo: true } }, /^body\.target\.typo: unknown field/],
      [body('B-1', ['e-2'], { reason: 'because' }), /^body\.reason: expected one of request, consent-withdrawn, got/],
      [body('B-1', []), /^body\.target\.values: expected 1 to 10000/],
      [body('B-1', ['  ']), /^body\.target\.values\.0: must not be empty/],
      [{ ...body('B-1', ['e-2']), target: { kind: 'user', values: ['e-2'] } }, /^body\.target\.kind: expected one of job, key, principal/],
      [body('has space', ['e-2']), /^body\.reference: expected the ticket id/],
      [body('B-1', ['e-2'], { due_at: 'next tuesday' }), /^body\.due_at: expected a date like 2027-01-31/, 'LETHE_E_CONFIG'],
      [{ ...body('B-1', ['e-2']), target: { kind: 'principal', values: ['u1'] } }, /^body\.target: no data-principal column is configured/, 'LETHE_E_CONFIG'],
      [{ reference: 'B-1', target: { kind: 'job', values: ['e-2'] }, reason: 'request' }, /^body\.requested_by: required$/],
    ];
    for (const [b, message, code] of cases) {
      const a = await inject(http.service, ERASURES, { token: TOKEN, body: b });
      expect([a.status, a.json.error.message], JSON.stringify(b)).toEqual([400, expect.stringMatching(message)]);
      expect(a.json.error.code).toBe(code ?? 'LETHE_E_HTTP_BAD_REQUEST');
    }
    const bad = await inject(http.service, ERASURES, { token: TOKEN, actor: 'bad\nactor', body: body('B-1', ['e-2']) });
    expect(bad.status).toBe(400);
    expect((await db.pool.query(`SELECT 1 FROM lethe_erasure_requests WHERE reference = 'B-1'`)).rowCount).toBe(0);
  });

  it('while paused the request is stored and stays open; submitted again after resume (200) its run completes it', async () => {
    const paused = await inject(http.service, '/api/admin/cleanup/pause', { token: TOKEN, body: { reason: 'drill' } });
    expect(paused.status).toBe(200);
    const a = await inject(http.service, ERASURES, { token: TOKEN, body: body('DPO-PAUSED-1', ['e-3']) });
    expect(a.json).toMatchObject({ created: true, run: 'started', request: { state: 'open' } });
    await http.service.idle();
    expect((await inject(http.service, a.json.location, { token: TOKEN })).json.request.state).toBe('open');
    expect(await jobExists('e-3')).toBe(true);
    expect(await files.exists('e/3.pdf')).toBe(true);
    expect((await inject(http.service, '/api/admin/cleanup/resume', { token: TOKEN, method: 'POST' })).status).toBe(200);
    const again = await inject(http.service, ERASURES, { token: TOKEN, body: body('DPO-PAUSED-1', ['e-3']) });
    expect(again.json).toMatchObject({ created: false, run: 'started' });
    expect(again.status).toBe(200);
    await http.service.idle();
    expect((await inject(http.service, a.json.location, { token: TOKEN })).json.request.state).toBe('completed');
    expect(await jobExists('e-3')).toBe(false);
    expect(await files.exists('e/3.pdf')).toBe(false);
  });

  it('needs the token (401), and does not exist without one configured (404)', async () => {
    const none = await inject(http.service, ERASURES, { body: body('T-1', ['e-2']) });
    expect([none.status, none.json.error.code]).toEqual([401, 'LETHE_E_HTTP_UNAUTHORIZED']);
    const wrong = await inject(http.service, ERASURES, { token: 'not-the-token', body: body('T-1', ['e-2']) });
    expect(wrong.status).toBe(401);
    expect((await inject(http.service, ERASURES)).status).toBe(401);
    expect((await inject(http.service, `${ERASURES}/DPO-2026-0142`)).status).toBe(401);
    const closed = await startService({ pool: db.pool, logger: silentLogger, version: 'test', engine });
    try {
      expect((await inject(closed.service, ERASURES, { token: TOKEN, body: body('T-1', ['e-2']) })).status).toBe(404);
    } finally {
      await closed.close();
    }
    expect((await db.pool.query(`SELECT 1 FROM lethe_erasure_requests WHERE reference = 'T-1'`)).rowCount).toBe(0);
  });
});

describe('GET /api/admin/cleanup/erasures and /{ref}', () => {
  it('mode next-run: stored open (run next-run), nothing erased yet; overdue in the list, the health JSON and /metrics', async () => {
    const due = new Date(Date.now() - 86_400_000).toISOString();
    const a = await inject(nextRun.service, ERASURES, { token: TOKEN, actor: 'dpo:asha', body: body('DPO/2026#7', ['e-2'], { due_at: due }) });
    expect(a.status).toBe(201);
    expect(a.json).toMatchObject({ created: true, run: 'next-run', location: `${ERASURES}/DPO%2F2026%237`, request: { state: 'open', overdue: true } });
    expect(a.json.request.seconds_left).toBeLessThan(0);
    await nextRun.service.idle();
    expect(await jobExists('e-2')).toBe(true);

    const shown = await inject(http.service, a.json.location, { token: TOKEN });
    expect(shown.status).toBe(200);
    expect(shown.json.request.reference).toBe('DPO/2026#7');
    expect(shown.json.record).toMatchObject({ state: 'open', overdue: true, rows_erased: 0, runs: [] });

    const list = async (q: string) =>
      ((await inject(http.service, `${ERASURES}${q}`, { token: TOKEN })).json.requests as { reference: string }[]).map((r) => r.reference);
    expect(await list('')).toEqual(['DPO/2026#7']);
    expect(await list('?state=open')).toEqual(['DPO/2026#7']);
    expect(await list('?state=overdue')).toEqual(['DPO/2026#7']);
    expect(await list('?state=completed')).toEqual(['DPO-PAUSED-1', 'DPO-2026-0142']);
    expect(await list('?state=all')).toEqual(['DPO/2026#7', 'DPO-PAUSED-1', 'DPO-2026-0142']);
    expect(await list('?state=all&limit=1')).toEqual(['DPO/2026#7']);

    const health = await inject(http.service, '/api/health/cleanup');
    expect(health.json.overdue_requests).toBe(1);
    expect(health.json.reasons).toContain('1 erasure request is past its deadline (lethe requests --overdue; runbook REQ-003)');
    const metrics = await inject(http.service, '/metrics');
    expect(metrics.text).toMatch(/^lethe_erasure_requests_overdue 1$/m);
  });

  it('the next full run serves it; then nothing is overdue', async () => {
    const summary = await engine.run();
    expect(summary.status).toBe('completed');
    const shown = await inject(http.service, `${ERASURES}/${encodeURIComponent('DPO/2026#7')}`, { token: TOKEN });
    expect(shown.json.request).toMatchObject({ state: 'completed', overdue: false });
    expect(shown.json.record).toMatchObject({ rows_erased: 1, files_erased: 1 });
    expect(await jobExists('e-2')).toBe(false);
    expect(await jobExists('e-4')).toBe(true);
    expect((await inject(http.service, '/api/health/cleanup')).json.overdue_requests).toBe(0);
    expect((await inject(http.service, '/metrics')).text).toMatch(/^lethe_erasure_requests_overdue 0$/m);
    expect((await inject(http.service, `${ERASURES}?state=overdue`, { token: TOKEN })).json.requests).toEqual([]);
  });

  it('answers 404 LETHE_E_NOT_FOUND for an unknown reference, 400 for a bad one or a bad query', async () => {
    const missing = await inject(http.service, `${ERASURES}/DPO-0000`, { token: TOKEN });
    expect(missing.status).toBe(404);
    expect(missing.json.error).toMatchObject({ code: 'LETHE_E_NOT_FOUND', message: expect.stringMatching(/^ref: no erasure request "DPO-0000"/) });
    const badRef = await inject(http.service, `${ERASURES}/${encodeURIComponent('-x y')}`, { token: TOKEN });
    expect([badRef.status, badRef.json.error.message]).toEqual([400, expect.stringMatching(/^ref: expected a request reference/)]);
    const badState = await inject(http.service, `${ERASURES}?state=late`, { token: TOKEN });
    expect([badState.status, badState.json.error.message]).toEqual([
      400,
      expect.stringMatching(/^query\.state: expected one of open, completed, overdue, all/),
    ]);
    const typo = await inject(http.service, `${ERASURES}?sate=open`, { token: TOKEN });
    expect([typo.status, typo.json.error.message]).toEqual([400, expect.stringMatching(/^query\.sate: unknown parameter/)]);
  });
});
