import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { createEngine, FileStorage, silentLogger, type Engine, type KeyOutcome } from '@lethe/engine';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';
import { inject, startService, type Running } from './support.js';

/** POST /api/admin/cleanup/holds: the CLI's `lethe hold` over HTTP, serialized with batches (docs/safety.md#holds). */
const TOKEN = 'hold-route-admin-token';
const HOLDS = '/api/admin/cleanup/holds';
let db: TestDatabase;
let files: TempRoot;
let engine: Engine;
let http: Running;

beforeAll(async () => {
  db = await createTestDatabase('http_holds');
  files = await createTempRoot('http-holds');
  await createJobsTable(db.pool);
  engine = createEngine({ pool: db.pool, storage: `file://${files.root}`, threads: 1 });
  await engine.migrate();
  http = await startService({ pool: db.pool, logger: silentLogger, version: 'test', engine, adminToken: TOKEN });
});
afterAll(async () => {
  await http?.close();
  await engine?.close();
  await files?.remove();
  await db?.drop();
});
beforeEach(async () => {
  await db.pool.query(`TRUNCATE jobs, lethe_holds, lethe_ledger, lethe_runs`);
});

const seed = async (id: string, key: string): Promise<void> => {
  await db.pool.query(`INSERT INTO jobs (id, file_key, purpose_code, created_at) VALUES ($1, $2, 'General', (now() AT TIME ZONE 'UTC') - interval '40 days')`, [
    id,
    key,
  ]);
  await files.put(key);
};

it('places a hold (201, with warnings), and refuses bad input with a JSON 4xx naming the field', async () => {
  await seed('a', 'h/a.pdf');
  const ok = await inject(http.service, HOLDS, { token: TOKEN, body: { file_key: 'h/a.pdf', reason: 'litigation 42' } });
  expect(ok.status).toBe(201);
  expect(ok.json).toMatchObject({ fileKey: 'h/a.pdf', reason: 'litigation 42', warnings: [] });
  const byJob = await inject(http.service, HOLDS, { token: TOKEN, body: { job_id: 'a', reason: 'regulator' } });
  expect(byJob).toMatchObject({ status: 201, json: { fileKey: 'h/a.pdf', jobId: 'a' } });
  const unknown = await inject(http.service, HOLDS, { token: TOKEN, body: { file_key: 'H/A.pdf', reason: 'x' } });
  expect(unknown.json.warnings[0]).toMatch(/differs only in case/);
  for (const [body, field] of [
    [{ file_key: '../x', reason: 'x' }, /file_key/],
    [{ reason: 'x' }, /file_key or job_id/],
    [{ file_key: 'k' }, /reason/],
    [{ file_key: 'k', reason: 'x', extra: 1 }, /extra/],
  ] as const) {
    const r = await inject(http.service, HOLDS, { token: TOKEN, body });
    expect(r.status, JSON.stringify(body)).toBe(400);
    expect(r.json.error.message).toMatch(field);
  }
  expect((await inject(http.service, HOLDS, { token: TOKEN, body: { job_id: 'nope', reason: 'x' } })).status).toBe(404);
  expect((await inject(http.service, HOLDS, { body: { file_key: 'h/a.pdf', reason: 'x' } })).status).toBe(401);
});

it('a hold asked while a batch is erasing the key waits for it, then answers 410 naming the run', async () => {
  await seed('b', 'g/b.pdf');
  let reached!: () => void;
  let release!: () => void;
  const atStorage = new Promise<void>((r) => (reached = r));
  const open = new Promise<void>((r) => (release = r));
  class Gated extends FileStorage {
    override async deleteMany(keys: readonly string[], signal?: AbortSignal): Promise<KeyOutcome[]> {
      reached();
      await open;
      return super.deleteMany(keys, signal);
    }
  }
  const runner = createEngine({ pool: db.pool, storage: new Gated({ root: files.root }), threads: 1 });
  try {
    const run = runner.run();
    await atStorage;
    const hold = inject(http.service, HOLDS, { token: TOKEN, body: { file_key: 'g/b.pdf', reason: 'too late?' } });
    // The hold's row lock waits for the batch: seen as a backend waiting on a lock.
    for (;;) {
      const { rows } = await db.pool.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FOR KEY SHARE%'`);
      if (rows.length > 0) break;
      await new Promise((r) => setImmediate(r));
    }
    release();
    const s = await run;
    const answer = await hold;
    expect(answer.status).toBe(410);
    expect(answer.json.error).toMatchObject({ code: 'LETHE_E_GONE', message: expect.stringContaining(`already erased by run ${s.run_id}`) });
  } finally {
    release();
    await runner.close();
  }
});
