import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '@lethe/engine';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';

/**
 * `lethe plan --within 48h | head -1`: the reader closes the pipe after one line. The CLI printed
 * `Error: write EPIPE` with a stack trace and exited 1; a Unix tool exits quietly.
 */
const BIN = fileURLToPath(new URL('../../packages/cli/bin/lethe.js', import.meta.url));
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('cli_closed_pipe');
  await createJobsTable(db.pool);
  const engine = createEngine({ databaseUrl: db.url });
  try {
    await engine.migrate();
  } finally {
    await engine.close();
  }
  // Far more than a pipe buffer (64 KiB) of JSON lines, so writes go on after the reader left.
  await db.pool.query(`INSERT INTO jobs (id, file_key, purpose_code, created_at)
    SELECT 'j' || g, 'uploads/2025/11/a-rather-long-file-name-' || g || '.pdf', 'System Testing', (now() AT TIME ZONE 'UTC') - interval '1 hour'
    FROM generate_series(1, 20000) g`);
});

afterAll(async () => {
  await db?.drop();
});

/** Runs `lethe <args>` and closes its stdout after the first chunk, as `head -1` does. */
function runAndCloseEarly(args: readonly string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; firstChunk: string }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: db.url, LETHE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let firstChunk = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.once('data', (d: Buffer) => {
    firstChunk = d.toString('utf8');
    child.stdout.destroy();
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stderr, firstChunk }));
  });
}

describe('a closed stdout pipe', () => {
  it('lethe plan --within 48h | head -1 exits 0 with nothing on stderr', async () => {
    const r = await runAndCloseEarly(['plan', '--within', '48h']);
    expect(r.firstChunk).toMatch(/^\{"job_id":/);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
