import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDaemonFixture, type DaemonFixture } from '../daemon/daemon-fixture.js';
import { assertBuilt, eventually, spawnLethe, type LetheProcess } from '../daemon/daemon-process.js';

/**
 * Operations (runbook FM-001): a daemon's in-process health uses LETHE_STALE_AFTER_MS too. Two replicas share
 * a 3 s timeout (each then beats every second); one is SIGKILLed; the survivor's health counts one
 * live scheduler, and its own heartbeat row (with its version) keeps moving.
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

async function health(port: number): Promise<Record<string, any>> {
  const res = await request(`http://127.0.0.1:${port}/api/health/cleanup`);
  return (await res.body.json()) as Record<string, any>;
}

describe("a daemon's own health", () => {
  it('sees a SIGKILLed replica go stale after LETHE_STALE_AFTER_MS and itself alive, beating three times per timeout', async () => {
    const f = (fixture = await createDaemonFixture('ops_live_daemon'));
    const env = { ...f.env, LETHE_STALE_AFTER_MS: '3000' };
    const [a, b] = [spawnLethe(['daemon', '--port', '0'], env), spawnLethe(['daemon', '--port', '0', '--host', '127.0.0.1'], env)];
    processes.push(a, b);
    const [startedA, startedB, listeningB] = await Promise.all([
      a.waitForLine('daemon A to start', (l) => l.msg === 'daemon started'),
      b.waitForLine('daemon B to start', (l) => l.msg === 'daemon started'),
      b.waitForLine('daemon B to serve', (l) => l.msg.startsWith('http listening')),
    ]);
    const port = Number(listeningB.port);
    await eventually('B to see both daemons alive', async () => (await health(port)).schedulers === 2);

    a.child.kill('SIGKILL');
    await a.exited;
    const after = await eventually(
      'B to see A stale',
      async () => {
        const h = await health(port);
        return h.schedulers === 1 ? h : undefined;
      },
      20_000,
    );
    expect(after).toMatchObject({ scheduler_running: true, version: VERSION });
    const { rows } = await f.db.pool.query<{ instance_id: string; state: string; version: string; age_ms: number }>(
      `SELECT instance_id, state, version, extract(epoch FROM now() - last_beat) * 1000 AS age_ms FROM lethe_schedulers ORDER BY instance_id`,
    );
    const byId = new Map(rows.map((r) => [r.instance_id, r]));
    expect(byId.get(String(startedA.instanceId))).toMatchObject({ state: 'running', version: VERSION });
    expect(Number(byId.get(String(startedA.instanceId))!.age_ms)).toBeGreaterThan(3000);
    expect(byId.get(String(startedB.instanceId))).toMatchObject({ state: 'running', version: VERSION });
    const beats = new Set<string>();
    await eventually(
      'B to beat three more times',
      async () => {
        const r = await f.db.pool.query<{ b: Date }>(`SELECT last_beat AS b FROM lethe_schedulers WHERE instance_id = $1`, [String(startedB.instanceId)]);
        beats.add(r.rows[0]!.b.toISOString());
        return beats.size >= 3;
      },
      15_000,
    );
  });
});
