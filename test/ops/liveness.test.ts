import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDaemonFixture, type DaemonFixture } from '../daemon/daemon-fixture.js';
import { assertBuilt, eventually, spawnLethe, type LetheProcess, type LogLine } from '../daemon/daemon-process.js';
import { lethe } from '../cli/support/cli.js';

/**
 * Operations (runbook OP-003 "scheduler running", FM-001, EMERGENCY-003): a daemon that dies shows as
 * stale after the configured timeout in `lethe status` and in a standalone `lethe serve`'s health;
 * both report the version, as /metrics does (lethe_build_info). See liveness-daemon.test.ts for a
 * daemon's own health, and erasures.test.ts for the version in a run's audit row.
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
  schedulers: {
    instance_id: string;
    host: string;
    version: string;
    started_at: string;
    last_beat: string;
    next_run: string | null;
    alive: boolean;
    state: string;
  }[];
}

async function getJson(url: string): Promise<{ status: number; body: any; text: string }> {
  const res = await request(url);
  const text = await res.body.text();
  return { status: res.statusCode, body: text.startsWith('{') ? JSON.parse(text) : null, text };
}

const portOf = (line: LogLine): number => Number(line.port);

describe('scheduler liveness', () => {
  it('a SIGKILLed daemon turns stale after LETHE_STALE_AFTER_MS in lethe status and lethe serve; versions in status, health and metrics', async () => {
    const f = (fixture = await createDaemonFixture('ops_live'));
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

    const serve = spawnLethe(['serve', '--port', '0', '--host', '127.0.0.1'], { ...f.env, LETHE_STALE_AFTER_MS: '3000' });
    processes.push(serve);
    const serveBase = `http://127.0.0.1:${portOf(await serve.waitForLine('serve to listen', (l) => l.msg === 'http: listening'))}`;
    const healthy = await getJson(`${serveBase}/api/health/cleanup`);
    expect(healthy.body).toMatchObject({ version: VERSION, scheduler_running: true, schedulers: 1 });

    a.child.kill('SIGKILL');
    await a.exited;

    const stale = await eventually(
      'lethe status to call daemon A stale',
      async () => {
        const r = await lethe(['status', '--json'], { ...f.env, LETHE_STALE_AFTER_MS: '1500' });
        const s = r.json<Status>();
        return s.schedulers[0]?.alive === false ? s : undefined;
      },
      30_000,
    );
    expect(stale).toMatchObject({ stale_after_ms: 1500, health: { status: 'unhealthy', scheduler_running: false } });
    expect(stale.schedulers[0]).toMatchObject({ instance_id: instanceA, state: 'running', alive: false });
    expect(stale.health.reasons).toContain('no scheduler is running (the last heartbeat is stale)');
    const [human, down] = await Promise.all([
      lethe(['status'], { ...f.env, LETHE_STALE_AFTER_MS: '1500' }),
      eventually('lethe serve health to see no scheduler', async () => {
        const h = await getJson(`${serveBase}/api/health/cleanup`);
        return h.body?.scheduler_running === false ? h : undefined;
      }),
    ]);
    expect(human.stdout).toMatch(/Scheduler: +NOT RUNNING \(last heartbeat /);
    expect(human.stdout).toMatch(new RegExp(`\\n  ${instanceA} +\\S+ +v${VERSION.replace(/\./g, '\\.')} .*STALE \\(silent for \\S+, over 1\\.5s\\)`));
    expect(human.stdout).toMatch(new RegExp(`\\nVersion: +lethe ${VERSION.replace(/\./g, '\\.')} \\(this command\\)\\n`));

    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: 'unhealthy', version: VERSION, schedulers: 0 });
    const metrics = await getJson(`${serveBase}/metrics`);
    expect(metrics.text).toContain(`lethe_build_info{version="${VERSION}"} 1`);
    // FM-004: prom-client's defaults (CPU, memory, event-loop lag) beside Lethe's own.
    for (const m of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds'])
      expect(metrics.text).toMatch(new RegExp(`\\n${m} \\d`));
  });
});
