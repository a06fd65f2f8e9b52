import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDaemonFixture, seedExpired, type DaemonFixture } from './daemon-fixture.js';
import { assertBuilt, exitWithin, spawnLethe, type LetheProcess } from './daemon-process.js';

const TOKEN = 'test-admin-token-0123456789';
let fixture: DaemonFixture | null = null;
let processes: LetheProcess[] = [];

beforeAll(() => assertBuilt());

afterEach(async (ctx) => {
  await Promise.all(processes.map((p) => p.kill()));
  processes = [];
  await fixture?.cleanup(ctx.task.result?.state === 'fail');
  fixture = null;
});

function lethe(args: string[], env: Record<string, string>): LetheProcess {
  const p = spawnLethe(args, env);
  processes.push(p);
  return p;
}

describe('the admin API starts runs through the daemon', () => {
  it('POST /api/admin/cleanup/runs answers 202 with the run id at once; the run is logged under that id', async () => {
    const f = (fixture = await createDaemonFixture('daemon_api'));
    const keys = await seedExpired(f, 20);
    const daemon = lethe(['daemon', '--port', '0'], { ...f.env, LETHE_ADMIN_TOKEN: TOKEN }); // daily 02:00: idle now
    const port = Number((await daemon.waitForLine('http listening', (l) => l.msg.startsWith('http listening'))).port);
    const res = await fetch(`http://127.0.0.1:${port}/api/admin/cleanup/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'x-lethe-actor': 'oncall:asha' },
      body: '{}',
    });
    expect(res.status).toBe(202);
    const { run_id: runId } = (await res.json()) as { run_id: string };
    const summary = await daemon.waitForLine('the API run summary', (l) => l.msg === 'run summary' && l.runId === runId);
    expect(summary).toMatchObject({ trigger: 'api', by: 'http:oncall:asha', status: 'completed', deleted_count: keys.length });
    daemon.child.kill('SIGTERM');
    expect((await exitWithin(daemon, 20_000)).code).toBe(0);
  });
});
