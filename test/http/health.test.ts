import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createEngine, silentLogger, type Engine } from '@lethe/engine';
import { createHttpService, type HttpService } from '@lethe/http';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;
let engine: Engine;
let service: HttpService;
let base: string;

beforeAll(async () => {
  db = await createTestDatabase('http_health');
  await createJobsTable(db.pool);
  engine = createEngine({ pool: db.pool });
  await engine.migrate();
  service = createHttpService({ pool: db.pool, logger: silentLogger, version: 'test' });
  const { port } = await service.listen(0, '127.0.0.1');
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await service?.close();
  await engine?.close();
  await db?.drop();
});

describe('health routes', () => {
  it('answers liveness, readiness and the runbook health JSON', async () => {
    const live = await request(`${base}/livez`);
    expect(live.statusCode).toBe(200);
    await live.body.json();
    const ready = await request(`${base}/readyz`);
    expect(ready.statusCode).toBe(200);
    await ready.body.json();
    const health = await request(`${base}/api/health/cleanup`);
    expect(health.statusCode).toBe(503);
    const body = (await health.body.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 'unhealthy', last_run: null, next_run: null, deleted_last_24h: 0, failed_last_24h: 0, paused: false });
  });
});
