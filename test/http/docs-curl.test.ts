import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, silentLogger, type Engine } from '@lethe/engine';
import { createBackgroundRuns, type BackgroundRuns } from '@lethe/http';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';
import { beat, call, startService, type Running } from './support.js';

/**
 * Every `curl` command in the shell blocks of docs/runbook.md, docs/http.md and docs/rights.md, run as written with
 * real curl (and bash, for their pipes into jq / grep) against a live service: the documented host
 * `https://lethe.internal` becomes the service's address, `$LETHE_ADMIN_TOKEN` and `$RUN_ID` are
 * set in the environment as an operator's shell has them. Each must exit 0 and every answer it got
 * must be 2xx: a shim named `curl` first on PATH adds `-w` writing each status code to stderr.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOC_HOST = 'https://lethe.internal';
const TOKEN = 'docs-curl-admin-token-0123456789';
const REAL_CURL = spawnSync('sh', ['-c', 'command -v curl'], { encoding: 'utf8' }).stdout.trim();
const HAS_JQ = spawnSync('sh', ['-c', 'command -v jq'], { encoding: 'utf8' }).status === 0;

/** `curl` command lines (continuations joined) of the fenced shell blocks of a Markdown file. */
function curlCommands(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const out: string[] = [];
  for (const block of text.matchAll(/^```(bash|sh|shell|console)?\n([\s\S]*?)^```$/gm)) {
    const lines = block[2]!.replace(/\\\n\s*/g, ' ').split('\n');
    for (const l of lines) if (/^(?:[A-Z_]+=\S*\s+)*curl\s/.test(l.trim())) out.push(l.trim());
  }
  return out;
}

const DOCS = {
  'docs/runbook.md': curlCommands('docs/runbook.md'),
  'docs/http.md': curlCommands('docs/http.md'),
  'docs/rights.md': curlCommands('docs/rights.md'),
};

let db: TestDatabase;
let files: TempRoot;
let engine: Engine;
let http: Running;
let shim: string;
let runId: string;
let runs: BackgroundRuns;

beforeAll(async () => {
  db = await createTestDatabase('http_docs_curl');
  files = await createTempRoot('http-docs-curl');
  await createJobsTable(db.pool);
  engine = createEngine({ pool: db.pool, storage: `file://${files.root}`, threads: 1 });
  await engine.migrate();
  // Runs triggered over HTTP run in the background, as in `lethe serve` and the daemon.
  let observe: (s: Parameters<Running['service']['observeRun']>[0]) => void = () => {};
  runs = createBackgroundRuns(engine, { logger: silentLogger, onFinished: (s) => observe(s) });
  http = await startService({ pool: db.pool, logger: silentLogger, version: 'test', engine, adminToken: TOKEN, triggerRun: runs.triggerRun });
  observe = (s) => http.service.observeRun(s);
  // A healthy Lethe, as the docs assume: a live scheduler and a completed run.
  await beat(db.pool);
  const summary = await engine.run();
  expect(summary.status).toBe('completed');
  runId = summary.run_id;
  shim = await mkdtemp(join(tmpdir(), 'lethe-curl-shim-'));
  await writeFile(join(shim, 'curl'), `#!/bin/sh\nexec '${REAL_CURL}' -w '%{stderr}LETHE_HTTP_CODE=%{http_code}\\n' "$@"\n`);
  await chmod(join(shim, 'curl'), 0o755);
});

afterAll(async () => {
  await runs?.idle();
  await http?.close();
  await engine?.close();
  await files?.remove();
  await db?.drop();
  if (shim) await rm(shim, { recursive: true, force: true });
});

/** Each command starts from the state the docs describe: not paused, no run in flight (an erasure request's too), a fresh heartbeat. */
async function settle(): Promise<void> {
  await http.service.idle();
  for (let i = 0; i < 200; i++) {
    const { rows } = await db.pool.query<{ n: string }>(`SELECT count(*) AS n FROM lethe_runs WHERE status = 'running'`);
    if (rows[0]!.n === '0') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const { rows } = await db.pool.query<{ paused: boolean }>('SELECT paused FROM lethe_control');
  if (rows[0]?.paused) expect((await call(http.base, '/api/admin/cleanup/resume', { method: 'POST', token: TOKEN })).status).toBe(200);
  await beat(db.pool);
}

function sh(command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      ['-o', 'pipefail', '-c', command],
      {
        env: { ...process.env, PATH: `${shim}${delimiter}${process.env.PATH ?? ''}`, LETHE_ADMIN_TOKEN: TOKEN, RUN_ID: runId },
        timeout: 30_000,
      },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe.skipIf(!REAL_CURL)('curl commands in the docs, run against a live service', () => {
  it('are found in every file', () => {
    expect(DOCS['docs/runbook.md'].length).toBeGreaterThanOrEqual(4);
    expect(DOCS['docs/http.md'].length).toBeGreaterThanOrEqual(10);
    expect(DOCS['docs/rights.md'].length).toBeGreaterThanOrEqual(1);
    for (const c of Object.values(DOCS).flat()) expect(c, 'the documented host').toContain(DOC_HOST);
  });

  it('the shim sees each answer: a wrong path is a 404 even without --fail', async () => {
    const r = await sh(`curl -sS -H "Authorization: Bearer $LETHE_ADMIN_TOKEN" ${http.base}/api/admin/cleanup/nope`);
    expect([...r.stderr.matchAll(/LETHE_HTTP_CODE=(\d+)/g)].map((m) => Number(m[1]))).toEqual([404]);
    expect(r.code).toBe(0);
  });

  for (const [file, commands] of Object.entries(DOCS)) {
    describe(file, () => {
      for (const command of commands) {
        it.skipIf(/\|\s*jq\b/.test(command) && !HAS_JQ)(command.length > 110 ? `${command.slice(0, 110)}...` : command, async () => {
          await settle();
          const r = await sh(command.replaceAll(DOC_HOST, http.base));
          const codes = [...r.stderr.matchAll(/LETHE_HTTP_CODE=(\d+)/g)].map((m) => Number(m[1]));
          const why = `${command}\nexit ${r.code}\nstdout: ${r.stdout.slice(0, 500)}\nstderr: ${r.stderr.slice(0, 500)}`;
          expect(codes.length, why).toBeGreaterThan(0);
          for (const c of codes) expect(c >= 200 && c < 300, why).toBe(true);
          expect(r.code, why).toBe(0);
          expect(r.stdout.trim(), why).not.toBe('');
        });
      }
    });
  }
});
