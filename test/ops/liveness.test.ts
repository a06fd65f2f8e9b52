import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDaemonFixture, seedExpired, type DaemonFixture } from '../daemon/daemon-fixture.js';
import { assertBuilt, eventually, spawnLethe, type LetheProcess } from '../daemon/daemon-process.js';
import { lethe } from '../cli/support/cli.js';

/**
 * Issue 9 (runbook OP-003 "scheduler running", FM-001, EMERGENCY-003): a daemon that dies shows as
 * stale after the configured timeout in `lethe status`, in a standalone `lethe serve`'s health and
 * in another daemon's; every place reports the version (status, health, metrics, heartbeat, runs).
 */
const VERSION = (JSON.parse(readFileSync(new URL('../../packages/cli/package.json', import.meta.url), 'utf8')) as { version: string }).version;

let fixture: DaemonFixture | null = null;
const processes: LetheProcess[] = [];

beforeAll(() => assertBuilt());
afterEach(async (ctx) => {
  await Promise.all(processes.splice(0).map((p) => p.kill()));
  await fixture?.cleanup(ctx.task.result?.state === 'fail');
  fixture = null;
});

interface Status {
  version: string;
  stale_after_ms: number;
  health: { status: string; scheduler_running: boolean; reasons: string[] };
  schedulers: { instance_id: string; host: string; version: string; started_at: string; last_beat: string; next_run: string | null; alive: boolean; state: string }[];
}

async function getJson(url: string): Promise<{ status: number; body: any; text: string }> {
  const res = await request(url);
  const text = await res.body.text();
  return { status: res.statusCode, body: text.startsWith('{') ? JSON.parse(text) : null, text };
}

const portOf = (line: { port?: unknown }): number => Number(line.port);

describe('scheduler liveness', () => {
  it('a SIGKILLed daemon turns stale after LETHE_STALE_AFTER_MS in status, lethe serve and another daemon; versions everywhere', async () => {
    const f = (fixture = await createDaemonFixture('ops_live'));
    await seedExpired(f, 3);
    // The fleet shares its stale timeout (3 s here); the daemon then beats every second.
    const a = spawnLethe(['daemon', '--port', '0'], { ...f.env, LETHE_STALE_AFTER_MS: '3000' });
    processes.push(a);
    const started = await a.waitForLine('daemon A to start', (l) => l.msg === 'daemon started');
    const instanceA = String(started.instanceId);

    const alive = await lethe(['status', '--json'], f.env);
    expect(alive.code).toBe(0);
    const s1 = alive.json<Status>();
    expect(s1).toMatchObject({ version: VERSION, stale_after_ms: 120_000, health: { scheduler_running: true } });
    expect(s1.schedulers).toMatchObject([{ instance_id: instanceA, version: VERSION, alive: true, state: 'running', next_run: expect.any(String) }]);

    // A run's audit row and summary carry the version (EMERGENCY-003).
    const run = await lethe(['run', '--json'], f.env);
    expect(run.code).toBe(0);
    expect(run.json<{ version: string }>().version).toBe(VERSION);
    const audit = await f.db.pool.query(`SELECT details->>'version' AS v FROM audit_logs WHERE action = 'cleanup_expired_jobs'`);
    expect(audit.rows).toEqual([{ v: VERSION }]);

    const serve = spawnLethe(['serve', '--port', '0', '--host', '127.0.0.1'], { ...f.env, LETHE_STALE_AFTER_MS: '3000' });
    processes.push(serve);
    const serveBase = `http://127.0.0.1:${portOf(await serve.waitForLine('serve to listen', (l) => l.msg === 'http: listening'))}`;
    const healthy = await getJson(`${serveBase}/api/health/cleanup`);
    expect(healthy.body).toMatchObject({ version: VERSION, scheduler_running: true, schedulers: 1 });

    a.child.kill('SIGKILL');
    await a.exited;

    const stale = await eventually('lethe status to call daemon A stale', async () => {
      const r = await lethe(['status', '--json'], { ...f.env, LETHE_STALE_AFTER_MS: '1500' });
      const s = r.json<Status>();
      return s.schedulers[0]?.alive === false ? s : undefined;
    }, 30_000);
    expect(stale).toMatchObject({ stale_after_ms: 1500, health: { status: 'unhealthy', scheduler_running: false } });
    expect(stale.schedulers[0]).toMatchObject({ instance_id: instanceA, state: 'running', alive: false });
    expect(stale.health.reasons).toContain('no scheduler is running (the last heartbeat is stale)');
    const human = await lethe(['status'], { ...f.env, LETHE_STALE_AFTER_MS: '1500' });
    expect(human.stdout).toMatch(/Scheduler: +NOT RUNNING \(last heartbeat /);
    expect(human.stdout).toMatch(new RegExp(`\\n  ${instanceA} +\\S+ +v${VERSION.replace(/\./g, '\\.')} .*STALE \\(silent for over 1\\.5s\\)`));
    expect(human.stdout).toMatch(new RegExp(`\\nVersion: +lethe ${VERSION.replace(/\./g, '\\.')} \\(this command\\)\\n`));

    const down = await eventually('lethe serve health to see no scheduler', async () => {
      const h = await getJson(`${serveBase}/api/health/cleanup`);
      return h.body?.scheduler_running === false ? h : undefined;
    });
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: 'unhealthy', version: VERSION, schedulers: 0 });
    const metrics = await getJson(`${serveBase}/metrics`);
    expect(metrics.text).toContain(`lethe_build_info{version="${VERSION}"} 1`);
    expect(metrics.text).toMatch(/\nprocess_cpu_seconds_total \d/);

    // A live daemon with a short stale timeout beats faster than it (a third of it), so it never
    // looks dead to itself; its in-process health sees A stale and itself alive.
    const b = spawnLethe(['daemon', '--port', '0', '--host', '127.0.0.1'], { ...f.env, LETHE_STALE_AFTER_MS: '3000' });
    processes.push(b);
    const bPort = portOf(await b.waitForLine('daemon B to serve', (l) => l.msg.startsWith('http listening')));
    const instanceB = String((await b.waitForLine('daemon B to start', (l) => l.msg === 'daemon started')).instanceId);
    const beats = new Set<string>();
    await eventually('daemon B to beat three times', async () => {
      const { rows } = await f.db.pool.query<{ b: Date; version: string }>(`SELECT last_beat AS b, version FROM lethe_schedulers WHERE instance_id = $1`, [instanceB]);
      if (rows[0]) {
        expect(rows[0].version).toBe(VERSION);
        beats.add(rows[0].b.toISOString());
      }
      return beats.size >= 3;
    }, 15_000);
    const fromB = await getJson(`http://127.0.0.1:${bPort}/api/health/cleanup`);
    expect(fromB.body).toMatchObject({ version: VERSION, scheduler_running: true, schedulers: 1 });
  });
});
