import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, silentLogger, type Engine } from '@lethe/engine';
import { createBackgroundRuns, type BackgroundRuns } from '@lethe/http';
import { createJobsTable, createTestDatabase, insertJobs, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';
import { beat, call, startService, type Running } from '../http/support.js';
import { at, externalReferences, fieldsShown, renderPage, shownAs, skipBrowserTests } from './browser.js';

/**
 * The daemon's read-only pages (docs/runbook.md#monitoring): `GET /` shows health, next run, last
 * runs, backlog and pause state as the JSON routes say them; `GET /report` the last closed
 * month's report; both behind the read token, fetching nothing.
 */
const TOKEN = 'status-page-token';
const UTC_NOW = `(now() AT TIME ZONE 'UTC')`;
let db: TestDatabase;
let files: TempRoot;
let engine: Engine;
let runs: BackgroundRuns;
let service: Running;

beforeAll(async () => {
  db = await createTestDatabase('report_status_page');
  files = await createTempRoot('report-status-page');
  await createJobsTable(db.pool);
  engine = createEngine({ pool: db.pool, storage: `file://${files.root}`, threads: 1 });
  await engine.migrate();
  runs = createBackgroundRuns(engine, { logger: silentLogger });
  service = await startService({ pool: db.pool, logger: silentLogger, version: 'status-test', engine, adminToken: TOKEN, triggerRun: runs.triggerRun });
  await insertJobs(db.pool, [
    { id: 's-1', fileKey: 's/1.pdf', purpose: 'System Testing', createdAtSql: `${UTC_NOW} - interval '2 days'` },
    { id: 's-2', fileKey: 's/2.pdf', purpose: 'System Testing', createdAtSql: `${UTC_NOW} - interval '3 days'` },
  ]);
  await files.put('s/1.pdf');
  await files.put('s/2.pdf');
  await beat(db.pool);
  for (let i = 0; i < 2; i += 1) {
    const started = await call(service.base, '/api/admin/cleanup/runs', { token: TOKEN, body: { dryRun: false } });
    expect(started.status, started.text).toBe(202);
    await runs.idle();
  }
  // Backlog left after the runs: three expired System Testing rows and one General row, then a pause.
  await insertJobs(db.pool, [
    { id: 'b-1', fileKey: 'b/1.pdf', purpose: 'System Testing', createdAtSql: `${UTC_NOW} - interval '2 days'` },
    { id: 'b-2', fileKey: 'b/2.pdf', purpose: 'System Testing', createdAtSql: `${UTC_NOW} - interval '2 days'` },
    { id: 'b-3', fileKey: 'b/3.pdf', purpose: 'System Testing', createdAtSql: `${UTC_NOW} - interval '5 days'` },
    { id: 'b-4', fileKey: 'b/4.pdf', purpose: 'General', createdAtSql: `${UTC_NOW} - interval '40 days'` },
    { id: 'f-1', fileKey: 'f/1.pdf', purpose: 'System Testing', createdAtSql: `${UTC_NOW} - interval '1 hour'` },
  ]);
  const paused = await call(service.base, '/api/admin/cleanup/pause', { token: TOKEN, actor: 'oncall:asha', body: { reason: 'storage migration <tonight>' } });
  expect(paused.status, paused.text).toBe(200);
});

afterAll(async () => {
  await runs?.idle();
  await service?.close();
  await engine?.close();
  await files?.remove();
  await db?.drop();
});

describe('the status page and the report page need the read token', () => {
  it.each([['/'], ['/report']])('%s answers 401 without it or with a wrong one, as JSON naming the header', async (path) => {
    for (const token of [undefined, 'wrong-token']) {
      const a = await call(service.base, path, token === undefined ? {} : { token });
      expect(a.status).toBe(401);
      expect(a.json.error.code).toBe('LETHE_E_HTTP_UNAUTHORIZED');
      expect(a.json.error.message).toMatch(/^authorization: /);
    }
  });

  it('/ is one self-contained HTML page that fetches nothing', async () => {
    const a = await call(service.base, '/', { token: TOKEN });
    expect(a.status).toBe(200);
    expect(a.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(a.headers['content-security-policy']).toBe("default-src 'none'; style-src 'unsafe-inline'; img-src data:");
    expect(externalReferences(a.text)).toEqual([]);
  });
});

describe.skipIf(skipBrowserTests)('the pages in headless Chromium', () => {
  it('the status page shows health, next run, last runs, backlog and pause state as the JSON routes say them', async () => {
    const health = (await call(service.base, '/api/health/cleanup')).json;
    const history = (await call(service.base, '/api/admin/cleanup/runs', { token: TOKEN })).json as { runs: { id: string }[] };
    const page = await call(service.base, '/', { token: TOKEN });
    const dom = await renderPage(page.text, 'status-page.png');
    const shown = fieldsShown(dom);
    expect(health).toMatchObject({ status: 'degraded', paused: true, pause_reason: 'storage migration <tonight>' });
    expect(shown.get('health.status')).toBe(health.status);
    expect(shown.get('health.next_run')).toBe(health.next_run);
    expect(shown.get('health.last_run')).toBe(health.last_run);
    expect(shown.get('health.last_run_status')).toBe(health.last_run_status);
    expect(shown.get('health.deleted_last_24h')).toBe(shownAs(health.deleted_last_24h));
    expect(shown.get('health.schedulers')).toBe(shownAs(health.schedulers));
    expect(shown.get('health.paused')).toBe('yes');
    expect(shown.get('health.paused_by')).toBe(health.paused_by);
    expect(shown.get('health.pause_reason')).toBe('storage migration <tonight>');
    expect(history.runs).toHaveLength(2);
    expect([...dom.matchAll(/<tr data-run="([^"]+)">/g)].map((m) => m[1])).toEqual(history.runs.map((r) => r.id));
    expect(dom).toContain('<td class="n" data-backlog="System Testing">3</td>');
    expect(dom).toContain('<td class="n" data-backlog="General">1</td>');
    expect(dom).toContain('<td class="n" data-backlog-total="">4</td>');
    expect(externalReferences(dom)).toEqual([]);
  });

  it("/report is the last closed month's report, the same numbers as the JSON route", async () => {
    const page = await call(service.base, '/report', { token: TOKEN, actor: 'dpo:meera' });
    expect(page.status).toBe(200);
    const month = /Lethe compliance report (\d{4}-\d{2})/.exec(page.text)?.[1];
    const lastMonth = (await db.pool.query<{ m: string }>(`SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month', 'YYYY-MM') AS m`))
      .rows[0]!.m;
    expect(month).toBe(lastMonth);
    const json = (await call(service.base, `/api/admin/cleanup/report?month=${lastMonth}`, { token: TOKEN })).json;
    const shown = fieldsShown(await renderPage(page.text, 'report-page.png'));
    expect(shown.size).toBeGreaterThan(10);
    for (const [path, text] of shown) expect(text, path).toBe(shownAs(at(json, path)));
    const audit = await db.pool.query(`SELECT details FROM audit_logs WHERE action = 'cleanup_admin_report' AND details->>'format' = 'html'`);
    expect(audit.rows).toEqual([{ details: expect.objectContaining({ by: 'http:dpo:meera', month: lastMonth }) }]);
  });
});
