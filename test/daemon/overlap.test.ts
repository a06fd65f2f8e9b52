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

// A run long enough (3000 rows at 100/s: 30 s) that the other side surely starts while it goes on,
// however loaded the machine; the tests interrupt it rather than wait for it.
const slow = { LETHE_BATCH_SIZE: '50', LETHE_DELETES_PER_SECOND: '100' };
const ROWS = 3000;

async function runningRun(f: DaemonFixture, trigger: string): Promise<string> {
  return eventually(`a ${trigger} run in progress`, async () => {
    const { rows } = await f.db.pool.query<{ id: string }>(`SELECT id FROM lethe_runs WHERE status = 'running' AND trigger = $1`, [trigger]);
    return rows[0]?.id;
  });
}

describe('a manual run and a scheduled run never overlap', () => {
  it('during a scheduled run, `lethe run` and the admin API trigger are refused with a clear message', async () => {
    const f = (fixture = await createDaemonFixture('daemon_overlap'));
    await seedExpired(f, ROWS);
    const daemon = lethe(['daemon', '--schedule', '*/2 * * * * *', '--port', '0'], { ...f.env, ...slow, LETHE_ADMIN_TOKEN: TOKEN });
    const port = Number((await daemon.waitForLine('http listening', (l) => l.msg.startsWith('http listening'))).port);
    await runningRun(f, 'schedule');
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);

    const manual = lethe(['run', '--json'], f.env);
    const manualExit = await exitWithin(manual, 20_000);
    expect(manualExit.code).toBe(1);
    expect(manual.stderrText()).toMatch(/LETHE_E_RUN_IN_PROGRESS: another Lethe run is in progress/);

    const api = await fetch(`http://127.0.0.1:${port}/api/admin/cleanup/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(api.status).toBe(409);
    expect(JSON.stringify(await api.json())).toContain('LETHE_E_RUN_IN_PROGRESS');

    daemon.child.kill('SIGTERM');
    expect((await exitWithin(daemon, 20_000)).code).toBe(0);
    expect((await f.db.pool.query(`SELECT 1 FROM lethe_runs WHERE trigger = 'manual'`)).rowCount).toBe(0);
  });

  it('overlap=refuse: a fire that finds a manual run in progress skips its slot and says so', async () => {
    const f = (fixture = await createDaemonFixture('daemon_refuse'));
    await seedExpired(f, ROWS);
    const manual = lethe(['run', '--json'], { ...f.env, ...slow });
    await runningRun(f, 'manual');
    const daemon = lethe(['daemon', '--schedule', '*/2 * * * * *', '--port', '0', '--overlap', 'refuse'], f.env);
    const refused = await daemon.waitForLine('a refused fire', (l) => String(l.msg).startsWith('another run holds the run lock: this run is refused'));
    expect(refused.slot).toEqual(expect.any(String));
    daemon.child.kill('SIGTERM');
    expect((await exitWithin(daemon, 20_000)).code).toBe(0);
    manual.child.kill('SIGTERM'); // stops at a batch boundary, recorded interrupted (exit 1: not completed)
    expect((await exitWithin(manual, 20_000)).code).toBe(1);
    // The refused slot was claimed but never got a run; the daemon started no run at all.
    const claim = await f.db.pool.query(`SELECT run_id FROM lethe_schedule_claims WHERE slot = $1`, [refused.slot]);
    expect(claim.rows).toEqual([{ run_id: null }]);
    expect((await f.db.pool.query(`SELECT 1 FROM lethe_runs WHERE trigger = 'schedule'`)).rowCount).toBe(0);
  });

  it('overlap=wait: a fire that finds a manual run in progress waits for it, then runs after it', async () => {
    const f = (fixture = await createDaemonFixture('daemon_wait'));
    await seedExpired(f, ROWS);
    const manual = lethe(['run', '--json'], { ...f.env, ...slow });
    const manualId = await runningRun(f, 'manual');
    const daemon = lethe(['daemon', '--schedule', '*/2 * * * * *', '--port', '0', '--overlap', 'wait'], { ...f.env, LETHE_LOCK_WAIT_MS: '60000' });
    const claimed = await daemon.waitForLine('a fire claimed while the manual run goes on', (l) => l.msg === 'slot claimed; running it');
    // The daemon waits for the lock; end the manual run (interrupted at a batch boundary).
    manual.child.kill('SIGTERM');
    expect((await exitWithin(manual, 20_000)).code).toBe(1);
    const summary = await daemon.waitForLine('the waiting run to finish', (l) => l.msg === 'run summary' && l.slot === claimed.slot, 30_000);
    expect(summary.status).toBe('completed');
    daemon.child.kill('SIGTERM');
    expect((await exitWithin(daemon, 20_000)).code).toBe(0);
    const manualRun = (await f.db.pool.query<{ status: string; ended_at: Date }>(`SELECT status, ended_at FROM lethe_runs WHERE id = $1`, [manualId])).rows[0]!;
    const daemonRun = (
      await f.db.pool.query<{ started_at: Date; claimed_at: Date }>(
        `SELECT r.started_at, c.claimed_at FROM lethe_runs r JOIN lethe_schedule_claims c ON c.run_id = r.id WHERE r.id = $1`,
        [summary.runId],
      )
    ).rows[0]!;
    expect(manualRun.status).toBe('interrupted');
    // It was claimed while the manual run went on, and started only after that run had ended.
    expect(daemonRun.claimed_at.getTime()).toBeLessThan(manualRun.ended_at.getTime());
    expect(daemonRun.started_at.getTime()).toBeGreaterThanOrEqual(manualRun.ended_at.getTime());
    expect((await f.db.pool.query('SELECT 1 FROM jobs')).rowCount).toBe(0);
  });
});
