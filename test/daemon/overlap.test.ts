import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDaemonFixture, seedExpired, type DaemonFixture } from './daemon-fixture.js';
import { assertBuilt, eventually, exitWithin, spawnLethe, type LetheProcess } from './daemon-process.js';

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

const slow = { LETHE_BATCH_SIZE: '50', LETHE_DELETES_PER_SECOND: '300' };

async function runningRun(f: DaemonFixture, trigger: string): Promise<string> {
  return eventually(`a ${trigger} run in progress`, async () => {
    const { rows } = await f.db.pool.query<{ id: string }>(`SELECT id FROM lethe_runs WHERE status = 'running' AND trigger = $1`, [trigger]);
    return rows[0]?.id;
  });
}

describe('a manual run and a scheduled run never overlap', () => {
  it('during a scheduled run, `lethe run` and the admin API trigger are refused with a clear message', async () => {
    const f = (fixture = await createDaemonFixture('daemon_overlap'));
    await seedExpired(f, 1500);
    const daemon = lethe(['daemon', '--schedule', '*/2 * * * * *', '--port', '0'], { ...f.env, ...slow, LETHE_ADMIN_TOKEN: TOKEN });
    const port = Number((await daemon.waitForLine('http listening', (l) => l.msg.startsWith('http listening'))).port);
    await runningRun(f, 'schedule');
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);

    const manual = lethe(['run', '--json'], f.env);
    const manualExit = await exitWithin(manual, 20_000);
    expect(manualExit.code).toBe(1);
    expect(manual.stderrText()).toMatch(/LETHE_E_RUN_IN_PROGRESS: another Lethe run is in progress/);

    const api = await fetch(`http://127.0.0.1:${port}/api/admin/cleanup/runs`, {
      method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: '{}',
    });
    expect(api.status).toBe(409);
    expect(JSON.stringify(await api.json())).toContain('LETHE_E_RUN_IN_PROGRESS');

    daemon.child.kill('SIGTERM');
    expect((await exitWithin(daemon, 20_000)).code).toBe(0);
    expect((await f.db.pool.query(`SELECT 1 FROM lethe_runs WHERE trigger = 'manual'`)).rowCount).toBe(0);
  });

  it('overlap=refuse: a fire that finds a manual run in progress skips its slot and says so', async () => {
    const f = (fixture = await createDaemonFixture('daemon_refuse'));
    await seedExpired(f, 1500);
    const manual = lethe(['run', '--json'], { ...f.env, ...slow });
    await runningRun(f, 'manual');
    const daemon = lethe(['daemon', '--schedule', '*/2 * * * * *', '--port', '0', '--overlap', 'refuse'], f.env);
    const refused = await daemon.waitForLine('a refused fire', (l) => String(l.msg).startsWith('another run holds the run lock: this run is refused'));
    expect(refused.slot).toEqual(expect.any(String));
    expect((await exitWithin(manual, 30_000)).code).toBe(0);
    daemon.child.kill('SIGTERM');
    expect((await exitWithin(daemon, 20_000)).code).toBe(0);
    // The refused slot was claimed but never got a run.
    const claim = await f.db.pool.query(`SELECT run_id FROM lethe_schedule_claims WHERE slot = $1`, [refused.slot]);
    expect(claim.rows).toEqual([{ run_id: null }]);
  });

  it('overlap=wait: a fire that finds a manual run in progress waits for it, then runs after it', async () => {
    const f = (fixture = await createDaemonFixture('daemon_wait'));
    await seedExpired(f, 1500);
    const manual = lethe(['run', '--json'], { ...f.env, ...slow });
    const manualId = await runningRun(f, 'manual');
    const daemon = lethe(['daemon', '--schedule', '*/2 * * * * *', '--port', '0', '--overlap', 'wait'], { ...f.env, LETHE_LOCK_WAIT_MS: '60000' });
    const claimed = await daemon.waitForLine('a fire claimed while the manual run goes on', (l) => l.msg === 'slot claimed; running it');
    expect((await exitWithin(manual, 30_000)).code).toBe(0);
    const summary = await daemon.waitForLine('the waiting run to finish', (l) => l.msg === 'run summary' && l.slot === claimed.slot, 30_000);
    expect(summary.status).toBe('completed');
    daemon.child.kill('SIGTERM');
    expect((await exitWithin(daemon, 20_000)).code).toBe(0);
    const runs = await f.db.pool.query<{ id: string; started_at: Date; ended_at: Date }>(`SELECT id, started_at, ended_at FROM lethe_runs WHERE id IN ($1, $2)`, [manualId, summary.runId]);
    const byId = new Map(runs.rows.map((r) => [r.id, r]));
    expect(byId.get(String(summary.runId))!.started_at.getTime()).toBeGreaterThanOrEqual(byId.get(manualId)!.ended_at.getTime());
  });
});

describe('the admin API starts runs through the daemon', () => {
  it('POST /api/admin/cleanup/runs answers 202 with the run id at once; the run is logged under that id', async () => {
    const f = (fixture = await createDaemonFixture('daemon_api'));
    const keys = await seedExpired(f, 20);
    const daemon = lethe(['daemon', '--port', '0'], { ...f.env, LETHE_ADMIN_TOKEN: TOKEN }); // daily 02:00: idle now
    const port = Number((await daemon.waitForLine('http listening', (l) => l.msg.startsWith('http listening'))).port);
    const res = await fetch(`http://127.0.0.1:${port}/api/admin/cleanup/runs`, {
      method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'x-lethe-actor': 'oncall:asha' }, body: '{}',
    });
    expect(res.status).toBe(202);
    const { run_id: runId } = (await res.json()) as { run_id: string };
    const summary = await daemon.waitForLine('the API run summary', (l) => l.msg === 'run summary' && l.runId === runId);
    expect(summary).toMatchObject({ trigger: 'api', by: 'http:oncall:asha', status: 'completed', deleted_count: keys.length });
    daemon.child.kill('SIGTERM');
    expect((await exitWithin(daemon, 20_000)).code).toBe(0);
  });
});
