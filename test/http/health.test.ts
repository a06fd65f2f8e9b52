import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, pause, resume, silentLogger, type Engine } from '@lethe/engine';
import { MemoryStorage } from '@lethe/engine/testing';
import { createJobsTable, createTestDatabase, insertJobs, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';
import { beat, inject, DAY_MS, HOUR_MS, startService, type Running } from './support.js';

const UTC_NOW = `(now() AT TIME ZONE 'UTC')`;
let db: TestDatabase;
let files: TempRoot;
let engine: Engine;
let http: Running;
/** Moves the service's clock (health judgements) forward without touching the database. */
let clockOffsetMs = 0;

beforeAll(async () => {
  db = await createTestDatabase('http_health');
  files = await createTempRoot('http-health');
  await createJobsTable(db.pool);
  engine = createEngine({ pool: db.pool, storage: `file://${files.root}`, threads: 1 });
  await engine.migrate();
  http = await startService({
    pool: db.pool,
    logger: silentLogger,
    version: 'test',
    engine,
    health: { failureThreshold: 1 },
    now: () => Date.now() + clockOffsetMs,
  });
});

afterAll(async () => {
  await http?.close();
  await engine?.close();
  await files?.remove();
  await db?.drop();
});

const health = () => inject(http.service, '/api/health/cleanup');

describe('health states (runbook "Health Check Endpoint", DESIGN "Health")', () => {
  it('is unhealthy (503) before any scheduler has reported', async () => {
    const h = await health();
    expect(h.status).toBe(503);
    expect(h.json).toMatchObject({ status: 'unhealthy', last_run: null, next_run: null, deleted_last_24h: 0, failed_last_24h: 0, paused: false });
    expect(h.json.reasons.join(' ')).toMatch(/no scheduler/);
  });

  it('is healthy (200) with a fresh heartbeat and a recent completed run', async () => {
    await insertJobs(db.pool, [
      { id: 'old-1', fileKey: 'h/old-1.pdf', purpose: 'System Testing', createdAtSql: `${UTC_NOW} - interval '25 hours'` },
      { id: 'old-2', fileKey: 'h/old-2.pdf', purpose: 'General', createdAtSql: `${UTC_NOW} - interval '31 days'` },
      { id: 'new-1', fileKey: 'h/new-1.pdf', purpose: 'General', createdAtSql: `${UTC_NOW} - interval '1 day'` },
    ]);
    for (const k of ['h/old-1.pdf', 'h/old-2.pdf', 'h/new-1.pdf']) await files.put(k);
    await beat(db.pool);
    const summary = await engine.run();
    expect(summary).toMatchObject({ status: 'completed', deleted_count: 2, failed_count: 0 });
    const h = await health();
    expect(h.status).toBe(200);
    expect(h.json).toMatchObject({ status: 'healthy', deleted_last_24h: 2, failed_last_24h: 0, paused: false, reasons: [] });
    // The runbook's five fields, as ISO timestamps and counts.
    expect(Date.parse(h.json.last_run)).toBeGreaterThan(Date.now() - 60_000);
    expect(Date.parse(h.json.next_run)).toBeGreaterThan(Date.now());
    expect(h.headers['content-type']).toMatch(/^application\/json/);
  });

  it('is degraded (503) while paused, with who and why; readiness and liveness stay 200', async () => {
    await pause(db.pool, { by: 'oncall:asha', reason: 'EMERGENCY-001 drill' });
    const h = await health();
    expect(h.status).toBe(503);
    expect(h.json).toMatchObject({ status: 'degraded', paused: true, paused_by: 'oncall:asha', pause_reason: 'EMERGENCY-001 drill' });
    expect(h.json.reasons.join(' ')).toMatch(/paused by oncall:asha/);
    expect((await inject(http.service, '/readyz')).status).toBe(200);
    expect((await inject(http.service, '/livez')).status).toBe(200);
    await resume(db.pool, { by: 'oncall:asha' });
    expect((await health()).status).toBe(200);
  });

  it('is degraded when overdue by less than a period, unhealthy when overdue by more', async () => {
    try {
      clockOffsetMs = DAY_MS + 2 * HOUR_MS;
      const late = await health();
      expect(late.status).toBe(503);
      expect(late.json.status).toBe('degraded');
      expect(late.json.reasons.join(' ')).toMatch(/next_run .* is in the past/);
      expect(late.json.reasons.join(' ')).toMatch(/overdue by \d+ min/);
      clockOffsetMs = 3 * DAY_MS;
      const overdue = await health();
      expect(overdue.status).toBe(503);
      expect(overdue.json.status).toBe('unhealthy');
      expect(overdue.json.reasons.join(' ')).toMatch(/overdue by more than a schedule period/);
    } finally {
      clockOffsetMs = 0;
    }
  });

  it('is unhealthy when the only scheduler has stopped', async () => {
    await beat(db.pool, { state: 'stopped' });
    const h = await health();
    expect(h.json).toMatchObject({ status: 'unhealthy', scheduler_running: false });
    await beat(db.pool);
    expect((await health()).status).toBe(200);
  });

  it('is degraded when failures in the last 24 h exceed the threshold', async () => {
    const storage = new MemoryStorage().put('f/a.pdf').put('f/b.pdf');
    storage.fail.set('f/a.pdf', 'EACCES').set('f/b.pdf', 'EIO');
    await insertJobs(db.pool, [
      { id: 'fail-a', fileKey: 'f/a.pdf', purpose: 'System Testing', createdAtSql: `${UTC_NOW} - interval '2 days'` },
      { id: 'fail-b', fileKey: 'f/b.pdf', purpose: 'System Testing', createdAtSql: `${UTC_NOW} - interval '2 days'` },
    ]);
    const failing = createEngine({ pool: db.pool, storage });
    try {
      expect(await failing.run()).toMatchObject({ status: 'completed', failed_count: 2 });
    } finally {
      await failing.close();
    }
    const h = await health();
    expect(h.status).toBe(503);
    expect(h.json).toMatchObject({ status: 'degraded', failed_last_24h: 2 });
    expect(h.json.reasons.join(' ')).toMatch(/2 files failed to delete in the last 24 h and are still failing \(threshold 1\)/);
  });

  it('failed_last_24h counts files still failing, not attempts: retries count once, a fixed or removed one not at all', async () => {
    // The same two keys as above, still failing: two more runs make 6 attempts on 2 files.
    const storage = new MemoryStorage().put('f/a.pdf').put('f/b.pdf');
    storage.fail.set('f/a.pdf', 'EACCES').set('f/b.pdf', 'EIO');
    const retrying = createEngine({ pool: db.pool, storage });
    try {
      for (let i = 0; i < 2; i++) expect(await retrying.run()).toMatchObject({ failed_count: 2 });
      const attempts = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM lethe_ledger WHERE outcome = 'failed'`);
      expect(attempts.rows[0]!.n).toBe(6);
      expect((await health()).json).toMatchObject({ failed_last_24h: 2 });
      // The cause fixed for one key: the next run erases it, and it no longer counts.
      storage.fail.delete('f/a.pdf');
      expect(await retrying.run()).toMatchObject({ deleted_count: 1, failed_count: 1 });
      expect((await health()).json).toMatchObject({ failed_last_24h: 1 });
      // FM-002 case 1: the operator removes the other row; nothing is failing any more.
      await db.pool.query(`DELETE FROM jobs WHERE id = 'fail-b'`);
      const h = await health();
      expect(h.json).toMatchObject({ failed_last_24h: 0 });
      expect(h.json.reasons.join(' ')).not.toMatch(/failed to delete/);
    } finally {
      await retrying.close();
    }
  });
});

describe('probes', () => {
  it('readiness is 503 when the process says it is not ready, liveness stays 200', async () => {
    const notReady = await startService({ pool: db.pool, logger: silentLogger, version: 'test', ready: () => false });
    try {
      const r = await inject(notReady.service, '/readyz');
      expect(r.status).toBe(503);
      expect(r.json).toEqual({ status: 'not_ready', checks: { database: true, process: false } });
      expect((await inject(notReady.service, '/livez')).json).toEqual({ status: 'ok' });
    } finally {
      await notReady.close();
    }
  });

  it('without its database: readiness 503, health 503 unhealthy (not a 500), liveness 200', async () => {
    const dead = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/none', connectionTimeoutMillis: 2000 });
    dead.on('error', () => {});
    const s = await startService({ pool: dead, logger: silentLogger, version: 'test' });
    try {
      expect((await inject(s.service, '/readyz')).json).toEqual({ status: 'not_ready', checks: { database: false, process: true } });
      const h = await inject(s.service, '/api/health/cleanup');
      expect(h.status).toBe(503);
      expect(h.json.status).toBe('unhealthy');
      expect((await inject(s.service, '/livez')).status).toBe(200);
    } finally {
      await s.close();
      await dead.end();
    }
  });
});
