import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '@lethe/cli';
import { createEngine } from '@lethe/engine';
import { createJobsTable, createTestDatabase, insertJobs, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';
import { call } from './support.js';

const UTC_NOW = `(now() AT TIME ZONE 'UTC')`;
const TOKEN = 'serve-token';
const BIN = fileURLToPath(new URL('../../node_modules/.bin/lethe', import.meta.url));
const BUILT = existsSync(fileURLToPath(new URL('../../packages/cli/dist/commands/serve.js', import.meta.url)));
let db: TestDatabase;
let files: TempRoot;

beforeAll(async () => {
  db = await createTestDatabase('http_serve');
  files = await createTempRoot('http-serve');
  await createJobsTable(db.pool);
  const engine = createEngine({ databaseUrl: db.url });
  try {
    await engine.migrate();
  } finally {
    await engine.close();
  }
});

afterAll(async () => {
  await files?.remove();
  await db?.drop();
});

/** Resolves with the URL `lethe serve` prints once it listens. */
function listeningUrl(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer | string): void => {
      text += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(text);
      if (m) {
        stream.off('data', onData);
        resolve(m[1]!);
      }
    };
    stream.on('data', onData);
    stream.once('end', () => reject(new Error(`ended before listening: ${text}`)));
  });
}

/** Polls `probe` until it returns a value; fails after `timeoutMs`. */
async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`waitFor: nothing after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('lethe serve', () => {
  it('serves health and the admin API from config (env), runs in-process, stops on the signal', async () => {
    await insertJobs(db.pool, [{ id: 's-1', fileKey: 's/1.pdf', purpose: 'System Testing', createdAtSql: `${UTC_NOW} - interval '25 hours'` }]);
    await files.put('s/1.pdf');
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stderr.resume();
    const controller = new AbortController();
    const env = { DATABASE_URL: db.url, LETHE_STORAGE: `file://${files.root}`, LETHE_ADMIN_TOKEN: TOKEN, LETHE_LOG_LEVEL: 'silent', LETHE_THREADS: '1' };
    const url = listeningUrl(stdout);
    const exit = main(['serve', '--port', '0', '--host', '127.0.0.1'], { io: { stdout, stderr, env }, signal: controller.signal });
    const base = await Promise.race([url, exit.then((code) => Promise.reject(new Error(`serve exited ${code}`)))]);
    try {
      expect((await call(base, '/livez')).status).toBe(200);
      expect((await call(base, '/api/health/cleanup')).json.status).toBe('unhealthy');
      const t = await call(base, '/api/admin/cleanup/runs', { token: TOKEN, body: {} });
      expect(t.status).toBe(202);
      // The run is in-process and out of reach: wait for its record to end (bounded by a deadline).
      const run = await waitFor(async () => {
        const r = (await call(base, `/api/admin/cleanup/runs/${t.json.run_id}`, { token: TOKEN })).json.run as { status: string; deleted_count: number | null };
        return r.status === 'running' ? undefined : r;
      });
      expect(run, JSON.stringify(run)).toMatchObject({ status: 'completed', deleted_count: 1 });
      // Run records and ledger lookups need the token by default (LETHE_ADMIN_PROTECT_READS unset).
      expect((await call(base, `/api/admin/cleanup/runs/${t.json.run_id}`)).status).toBe(401);
      expect((await call(base, '/api/admin/cleanup/ledger?file_key=s/1.pdf')).status).toBe(401);
      expect(await files.exists('s/1.pdf')).toBe(false);
      const metrics = (await call(base, '/metrics')).text;
      expect(metrics).toMatch(/^lethe_files_deleted_total\{purpose="System Testing",outcome="erased"\} 1$/m);
    } finally {
      controller.abort();
    }
    expect(await exit).toBe(0);
    await expect(call(base, '/livez')).rejects.toThrow();
  });

  it('exits 2 with a message on a bad port', async () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await main(['serve', '--port', '70000'], { io: { stdout, stderr, env: { DATABASE_URL: db.url } } });
    expect(code).toBe(2);
    expect(err).toMatch(/httpPort \(flag\): expected an integer from 0 to 65535/);
  });

  it.skipIf(!BUILT)('the built bin logs JSON on stderr and exits 0 on SIGTERM', async () => {
    const child = spawn(BIN, ['serve', '--port', '0', '--host', '127.0.0.1'], {
      env: { ...process.env, DATABASE_URL: db.url, LETHE_ADMIN_TOKEN: TOKEN, LETHE_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const base = await listeningUrl(child.stdout);
    expect((await call(base, '/readyz')).status).toBe(200);
    const p = await call(base, '/api/admin/cleanup/pause', { token: TOKEN, actor: 'bin-test', body: { reason: 'bin test' } });
    expect(p.json.paused_by).toBe('http:bin-test');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const lines = stderr.split('\n').filter((l) => l.startsWith('{'));
    expect(lines.length).toBeGreaterThan(0);
    const logs = lines.map((l) => JSON.parse(l) as { msg?: string; component?: string });
    expect(logs.some((l) => l.msg === 'http: listening')).toBe(true);
    expect(logs.some((l) => l.msg === 'admin: Lethe paused' && l.component === 'http')).toBe(true);
  });
});
