import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, silentLogger, type Engine, type Logger } from '@lethe/engine';
import { RUN_LOCK_KEY } from '@lethe/engine/testing';
import { createBackgroundRuns, type BackgroundRuns } from '@lethe/http';
import { createJobsTable, createTestDatabase, insertJobs, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';
import { beat, inject, startService, type Running } from './support.js';

const UTC_NOW = `(now() AT TIME ZONE 'UTC')`;
const TOKEN = 's3cret-admin-token-for-tests';
const ADMIN = '/api/admin/cleanup';
let db: TestDatabase;
let files: TempRoot;
let engine: Engine;
let runs: BackgroundRuns;
let http: Running;

async function auditRows(action: string): Promise<Record<string, any>[]> {
  const { rows } = await db.pool.query<{ details: Record<string, any> }>('SELECT details FROM audit_logs WHERE action = $1 ORDER BY id', [action]);
  return rows.map((r) => r.details);
}

beforeAll(async () => {
  db = await createTestDatabase('http_admin');
  files = await createTempRoot('http-admin');
  await createJobsTable(db.pool);
  engine = createEngine({ pool: db.pool, storage: `file://${files.root}`, threads: 1 });
  await engine.migrate();
  await beat(db.pool);
  let observe: (s: Parameters<Running['service']['observeRun']>[0]) => void = () => {};
  runs = createBackgroundRuns(engine, { logger: silentLogger, onFinished: (s) => observe(s) });
  http = await startService({ pool: db.pool, logger: silentLogger, version: 'test', engine, adminToken: TOKEN, triggerRun: runs.triggerRun });
  observe = (s) => http.service.observeRun(s);
});

afterAll(async () => {
  await runs?.idle();
  await http?.close();
  await engine?.close();
  await files?.remove();
  await db?.drop();
});

describe('without a configured token the admin API does not exist', () => {
  it('answers 404 on every admin route, with or without a token, and the rest still works', async () => {
    const s = await startService({ pool: db.pool, logger: silentLogger, version: 'test', engine, triggerRun: runs.triggerRun });
    try {
      for (const [method, path] of [
        ['GET', `${ADMIN}/runs`],
        ['GET', `${ADMIN}/runs/00000000-0000-4000-8000-000000000000`],
        ['GET', `${ADMIN}/ledger?file_key=a`],
        ['POST', `${ADMIN}/pause`],
        ['POST', `${ADMIN}/runs`],
        ['GET', `${ADMIN}/report?month=2025-11`],
        ['GET', `${ADMIN}/nope`],
        ['DELETE', `${ADMIN}/runs`],
      ] as const) {
        const a = await inject(s.service, path, { method, token: TOKEN, ...(method === 'POST' ? { body: { reason: 'x' } } : {}) });
        expect(a.status, `${method} ${path}`).toBe(404);
        expect(a.json.error.code).toBe('LETHE_E_HTTP_NOT_FOUND');
      }
      const empty = await startService({ pool: db.pool, logger: silentLogger, version: 'test', adminToken: '  ' });
      try {
        expect((await inject(empty.service, `${ADMIN}/pause`, { body: { reason: 'x' }, token: '  ' })).status).toBe(404);
      } finally {
        await empty.close();
      }
      expect((await inject(s.service, '/livez')).status).toBe(200);
      expect(await auditRows('cleanup_paused')).toEqual([]);
    } finally {
      await s.close();
    }
  });
});

describe('bearer token', () => {
  it('mutating routes refuse a missing, malformed or wrong token with 401', async () => {
    for (const headers of [
      {},
      { authorization: 'Basic dXNlcjpwYXNz' },
      { authorization: 'Bearer' },
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: 'Bearer short' },
      { authorization: `Bearer ${TOKEN} extra` },
    ]) {
      const a = await inject(http.service, `${ADMIN}/pause`, { body: { reason: 'should not pause' }, headers });
      expect(a.status, JSON.stringify(headers)).toBe(401);
      expect(a.json.error.code).toBe('LETHE_E_HTTP_UNAUTHORIZED');
      expect(a.headers['www-authenticate']).toMatch(/^Bearer/);
    }
    expect((await inject(http.service, `${ADMIN}/resume`, { method: 'POST' })).status).toBe(401);
    expect((await inject(http.service, `${ADMIN}/runs`, { body: { dryRun: true } })).status).toBe(401);
    expect((await db.pool.query('SELECT paused FROM lethe_control')).rows[0].paused).toBe(false);
  });

  it('by default every route that returns per-file or per-run records needs the token: 401 JSON without it or with a wrong one', async () => {
    const reads = [
      `${ADMIN}/runs`,
      `${ADMIN}/runs?limit=5&include_dry_runs=true`,
      `${ADMIN}/runs/00000000-0000-4000-8000-000000000000`,
      `${ADMIN}/ledger?file_key=docs/exp-1.pdf`,
      `${ADMIN}/report?month=2025-11`,
    ];
    for (const path of reads) {
      for (const headers of [{}, { authorization: `Bearer ${TOKEN}x` }, { authorization: 'Basic dXNlcjpwYXNz' }]) {
        const a = await inject(http.service, path, { headers, actor: 'curious' });
        expect(a.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(a.headers['content-type']).toMatch(/^application\/json/);
        expect(a.json).toEqual({ error: { code: 'LETHE_E_HTTP_UNAUTHORIZED', message: expect.stringMatching(/^authorization: /) } });
        expect(a.headers['www-authenticate']).toMatch(/^Bearer/);
        expect(a.text).not.toContain('exp-1');
      }
    }
    expect((await inject(http.service, `${ADMIN}/runs`, { token: TOKEN })).status).toBe(200);
    // Refused lookups disclose nothing and leave no lookup audit row behind.
    expect(await auditRows('cleanup_admin_ledger_lookup')).toEqual([]);
    // Health, probes, metrics and the document are never behind the token.
    for (const open of ['/api/health/cleanup', '/livez', '/readyz', '/metrics', '/api/openapi.json']) {
      expect([200, 503], open).toContain((await inject(http.service, open)).status);
    }
  });

  it('protectReads: false opens the read routes on purpose; a token that is sent is still checked, writes still need it', async () => {
    const warned: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (_: object, msg?: string) => void warned.push(msg ?? ''), child: () => logger };
    const s = await startService({ pool: db.pool, logger, version: 'test', engine, adminToken: TOKEN, protectReads: false });
    try {
      expect(warned.join('\n')).toMatch(/admin read routes .* are open without the token/);
      expect((await inject(s.service, `${ADMIN}/runs`)).status).toBe(200);
      expect((await inject(s.service, `${ADMIN}/runs`, { token: 'wrong' })).status).toBe(401);
      expect((await inject(s.service, `${ADMIN}/runs`, { token: TOKEN })).status).toBe(200);
      expect((await inject(s.service, `${ADMIN}/pause`, { body: { reason: 'x' } })).status).toBe(401);
    } finally {
      await s.close();
    }
  });
});

describe('pause, resume, trigger (runbook OP-001, OP-003, EMERGENCY-001)', () => {
  it('pauses with the caller label in audit_logs, refuses real runs while paused, allows dry runs, resumes', async () => {
    const p = await inject(http.service, `${ADMIN}/pause`, { token: TOKEN, actor: 'oncall:asha', body: { reason: 'wrong policy deployed' } });
    expect(p.status).toBe(200);
    expect(p.json).toMatchObject({ paused: true, paused_by: 'http:oncall:asha', reason: 'wrong policy deployed' });
    expect((await auditRows('cleanup_paused')).at(-1)).toMatchObject({ by: 'http:oncall:asha', reason: 'wrong policy deployed', source: 'lethe' });

    const refused = await inject(http.service, `${ADMIN}/runs`, { token: TOKEN, actor: 'oncall:asha', body: {} });
    expect(refused.status).toBe(409);
    expect(refused.json.error.code).toBe('LETHE_E_PAUSED');
    expect((await auditRows('cleanup_admin_run_refused')).at(-1)).toMatchObject({ by: 'http:oncall:asha', code: 'LETHE_E_PAUSED', dry_run: false });

    const dry = await inject(http.service, `${ADMIN}/runs`, { token: TOKEN, body: { dryRun: true } });
    expect(dry.status).toBe(202);
    expect(dry.json).toMatchObject({ dry_run: true, status: 'running' });
    await runs.idle();

    const r = await inject(http.service, `${ADMIN}/resume`, { token: TOKEN, actor: 'oncall:asha', method: 'POST' });
    expect(r.status).toBe(200);
    expect(r.json.paused).toBe(false);
    expect((await auditRows('cleanup_resumed')).at(-1)).toMatchObject({ by: 'http:oncall:asha', was_paused: true });
  });

  it('triggers a real run: 202 with the run id at once, the run deletes the expired files', async () => {
    await insertJobs(db.pool, [
      { id: 'exp-1', fileKey: 'docs/exp-1.pdf', purpose: 'General', createdAtSql: `${UTC_NOW} - interval '30 days 1 hour'` },
      { id: 'live-1', fileKey: 'docs/live-1.pdf', purpose: 'Financial', createdAtSql: `${UTC_NOW} - interval '40 days'` },
    ]);
    await files.put('docs/exp-1.pdf');
    await files.put('docs/live-1.pdf');
    const t = await inject(http.service, `${ADMIN}/runs`, { token: TOKEN, actor: 'ops-bot', body: { dryRun: false } });
    expect(t.status).toBe(202);
    expect(t.json.run_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(t.headers.location).toBe(`${ADMIN}/runs/${t.json.run_id}`);
    await runs.idle();
    expect(await files.exists('docs/exp-1.pdf')).toBe(false);
    expect(await files.exists('docs/live-1.pdf')).toBe(true);
    expect((await auditRows('cleanup_admin_run_triggered')).at(-1)).toMatchObject({ by: 'http:ops-bot', run_id: t.json.run_id, dry_run: false });

    const one = await inject(http.service, `${ADMIN}/runs/${t.json.run_id}`, { token: TOKEN });
    expect(one.status).toBe(200);
    expect(one.json.run).toMatchObject({ id: t.json.run_id, status: 'completed', trigger: 'api', deleted_count: 1, failed_count: 0, dry_run: false });
    expect(one.json.summary).toMatchObject({ run_id: t.json.run_id, deleted_count: 1 });
    expect(one.json.failures_by_code).toEqual([]);

    const list = await inject(http.service, `${ADMIN}/runs?limit=5`, { token: TOKEN });
    expect(list.json.runs[0]).toMatchObject({ id: t.json.run_id });
    expect(list.json.runs.every((r: { dry_run: boolean }) => !r.dry_run)).toBe(true);
    const withDry = await inject(http.service, `${ADMIN}/runs?limit=5&include_dry_runs=true`, { token: TOKEN });
    expect(withDry.json.runs.some((r: { dry_run: boolean }) => r.dry_run)).toBe(true);
    // A dry run shows what it would delete, not its deleted_count of 0; real runs carry null there.
    const dryRow = withDry.json.runs.find((r: { dry_run: boolean }) => r.dry_run);
    const stored = await db.pool.query<{ n: number }>(`SELECT (summary->>'would_delete_count')::int AS n FROM lethe_runs WHERE id = $1`, [dryRow.id]);
    expect(dryRow).toMatchObject({ deleted_count: 0, would_delete_count: stored.rows[0]!.n, status_label: 'completed' });
    expect(list.json.runs[0]).toMatchObject({ would_delete_count: null, status_label: 'completed', degraded: false });
  });

  it('answers 409 when another run holds the run lock', async () => {
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [RUN_LOCK_KEY]);
      const t = await inject(http.service, `${ADMIN}/runs`, { token: TOKEN, body: {} });
      expect(t.status).toBe(409);
      expect(t.json.error.code).toBe('LETHE_E_RUN_IN_PROGRESS');
    } finally {
      await holder.end();
    }
  });

  it('answers 503 on trigger when the service cannot start runs', async () => {
    const s = await startService({ pool: db.pool, logger: silentLogger, version: 'test', adminToken: TOKEN });
    try {
      const t = await inject(s.service, `${ADMIN}/runs`, { token: TOKEN, body: {} });
      expect(t.status).toBe(503);
      expect(t.json.error.code).toBe('LETHE_E_HTTP_UNAVAILABLE');
    } finally {
      await s.close();
    }
  });
});

describe('history, lookup and report', () => {
  it('a run by id: 400 for a malformed id, 404 for an unknown one', async () => {
    expect((await inject(http.service, `${ADMIN}/runs/not-a-uuid`, { token: TOKEN })).status).toBe(400);
    const missing = await inject(http.service, `${ADMIN}/runs/00000000-0000-4000-8000-000000000000`, { token: TOKEN });
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('LETHE_E_HTTP_NOT_FOUND');
  });

  it('looks a file key up in the ledger (FM-003) and audits the lookup', async () => {
    const erased = await inject(http.service, `${ADMIN}/ledger?file_key=${encodeURIComponent('docs/exp-1.pdf')}`, { token: TOKEN, actor: 'dpo' });
    expect(erased.status).toBe(200);
    expect(erased.json).toMatchObject({ file_key: 'docs/exp-1.pdf', state: 'erased' });
    expect(erased.json.ledger[0]).toMatchObject({ job_id: 'exp-1', purpose: 'General', outcome: 'erased', policy_version: 1 });
    const live = await inject(http.service, `${ADMIN}/ledger?file_key=${encodeURIComponent('docs/live-1.pdf')}`, { token: TOKEN });
    expect(live.json).toMatchObject({ state: 'retained', storage: { checked: true, exists: true } });
    expect(Date.parse(live.json.rows[0].expires_at)).toBeGreaterThan(Date.now());
    expect((await inject(http.service, `${ADMIN}/ledger?file_key=never/seen.pdf`, { token: TOKEN })).json.state).toBe('unknown');
    const audit = await auditRows('cleanup_admin_ledger_lookup');
    expect(audit[0]).toMatchObject({ by: 'http:dpo', authenticated: true, file_key: 'docs/exp-1.pdf', state: 'erased' });
    expect(audit[1]).toMatchObject({ by: 'http:admin-token', authenticated: true });
  });

  it('produces the monthly compliance report and audits it', async () => {
    const month = new Date().toISOString().slice(0, 7);
    const r = await inject(http.service, `${ADMIN}/report?month=${month}`, { token: TOKEN, actor: 'dpo' });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ month, status: 'COMPLIANT', month_complete: false });
    expect(r.json.totals.deleted).toBeGreaterThanOrEqual(1);
    expect(r.json.by_purpose.find((p: { purpose: string }) => p.purpose === 'General')).toMatchObject({ deleted: 1 });
    expect((await auditRows('cleanup_admin_report')).at(-1)).toMatchObject({ by: 'http:dpo', month, status: 'COMPLIANT' });
  });

  it('health and metrics stay open and name no file key, even with files erased and one overdue', async () => {
    const month = new Date().toISOString().slice(0, 7);
    expect((await inject(http.service, `${ADMIN}/report?month=${month}`, { token: TOKEN })).json.totals.deleted).toBeGreaterThanOrEqual(1);
    for (const open of ['/api/health/cleanup', '/metrics']) {
      const a = await inject(http.service, open);
      expect([200, 503], open).toContain(a.status);
      expect(a.text, open).not.toMatch(/docs\/|\.pdf/);
    }
  });

  it('reports NON-COMPLIANT when an expired file is still present past period + grace', async () => {
    await insertJobs(db.pool, [{ id: 'late-1', fileKey: 'docs/late-1.pdf', purpose: 'System Testing', createdAtSql: `${UTC_NOW} - interval '5 days'` }]);
    await files.put('docs/late-1.pdf');
    const month = new Date().toISOString().slice(0, 7);
    const r = await inject(http.service, `${ADMIN}/report?month=${month}`, { token: TOKEN });
    expect(r.json.status).toBe('NON-COMPLIANT');
    expect(r.json.still_present.late).toBe(1);
    expect(r.json.reasons.join(' ')).toMatch(/still present/);
  });
});
