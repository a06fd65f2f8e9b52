import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeHeartbeat } from '@lethe/engine';
import { ago, createCliFixture, type CliFixture } from './support/fixture.js';

let f: CliFixture;

beforeAll(async () => {
  f = await createCliFixture('status');
  await f.insert([
    ['st-1', 'a/st-1.pdf', 'System Testing', ago('2 days')],
    ['st-2', 'a/st-2.pdf', 'System Testing', ago('30 hours')],
    ['gen-1', 'b/gen-1.pdf', 'General', ago('40 days')],
    ['gen-new', 'b/gen-new.pdf', 'General', ago('1 day')],
  ]);
  // The files exist: a run that finds every sampled file missing stops and pauses (storage check).
  for (const key of ['a/st-1.pdf', 'a/st-2.pdf', 'b/gen-1.pdf', 'b/gen-new.pdf']) await f.touch(key);
});

afterAll(async () => {
  await f.close();
});

interface StatusJson {
  paused: boolean;
  paused_by: string | null;
  pause_reason: string | null;
  health: { status: string; next_run: string | null; scheduler_running: boolean; reasons: string[] };
  schedulers: { host: string; schedule: string; alive: boolean }[];
  last_run: { id: string; status: string; deleted: number } | null;
  current_run: unknown;
  backlog: { total: number; by_purpose: Record<string, number>; policy_version: number };
}

describe('lethe status', () => {
  it('reports the backlog by purpose, no scheduler, not paused, no runs', async () => {
    const r = await f.run(['status', '--json']);
    // Unhealthy (no scheduler): exit 1 so scripts and probes can use it (runbook OP-002).
    expect(r.code).toBe(1);
    const s = r.json<StatusJson>();
    expect(s.backlog).toEqual({ total: 3, by_purpose: { 'System Testing': 2, General: 1, Financial: 0, Legal: 0, Medical: 0 }, policy_version: 1 });
    expect(s.paused).toBe(false);
    expect(s.last_run).toBeNull();
    expect(s.current_run).toBeNull();
    expect(s.health.scheduler_running).toBe(false);
    expect(s.health.status).toBe('unhealthy');

    const human = await f.run(['status']);
    expect(human.code).toBe(1);
    expect(human.lines[0]).toMatch(/^Health: +unhealthy/);
    expect(human.lines).toContain('Paused:       no');
    expect(human.lines).toContain('Backlog:      3 expired rows (policy version 1)');
    expect(human.lines).toContain('  System Testing: 2');
    expect(human.stdout).toMatch(/Scheduler: +NOT RUNNING \(no daemon has ever reported\)/);
  });

  it("shows the schedule, next run and a live scheduler from the daemons' heartbeats, and the last run", async () => {
    const nextRun = new Date(Date.now() + 3 * 3_600_000).toISOString();
    await writeHeartbeat(f.db.pool, {
      instanceId: 'd-1',
      host: 'api-1',
      pid: 42,
      version: '0.1.0',
      schedule: '0 2 * * *',
      timezone: 'UTC',
      periodMs: 86_400_000,
      nextRun,
      state: 'running',
    });
    const run = await f.run(['run', '--json']);
    expect(run.code).toBe(0);
    const healthy = await f.run(['status', '--json']);
    const s = healthy.json<StatusJson>();
    expect(s.health.reasons).toEqual([]);
    expect(s.health.status).toBe('healthy');
    expect(healthy.code).toBe(0);
    expect(s.health.scheduler_running).toBe(true);
    expect(s.health.next_run).toBe(nextRun);
    expect(s.schedulers).toMatchObject([{ host: 'api-1', schedule: '0 2 * * *', alive: true }]);
    expect(s.last_run).toMatchObject({ id: run.json<{ run_id: string }>().run_id, status: 'completed', deleted: 3 });
    expect(s.backlog.total).toBe(0);
    const human = await f.run(['status']);
    expect(human.stdout).toMatch(/Schedule: +0 2 \* \* \* \(UTC\)/);
    expect(human.stdout).toMatch(/Scheduler: +running \(api-1 pid 42/);
    expect(human.stdout).toMatch(/Last run: +\S+ \S+ completed \(manual\): 3 deleted, 0 failed/);
  });
});

describe('lethe pause / resume', () => {
  it('needs a reason (exit 2) and records who paused, when and why', async () => {
    const missing = await f.run(['pause']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("required option '--reason <text>'");
    const empty = await f.run(['pause', '--reason', '  ']);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/^lethe: .*reason: a pause needs a non-empty reason/m);

    const paused = await f.run(['pause', '--reason', 'wrong policy deployed', '--by', 'alice', '--json']);
    expect(paused.code).toBe(0);
    expect(paused.json()).toMatchObject({ paused: true, paused_by: 'alice', reason: 'wrong policy deployed', current_run: null });
    const audit = await f.db.pool.query(`SELECT details FROM audit_logs WHERE action = 'cleanup_paused'`);
    expect(audit.rows).toMatchObject([{ details: { by: 'alice', reason: 'wrong policy deployed', source: 'lethe' } }]);

    const s = await f.run(['status']);
    expect(s.code).toBe(1); // paused is degraded
    expect(s.stdout).toMatch(/^Health: +degraded \(paused by alice/);
    expect(s.stdout).toMatch(/Paused: +YES, by alice at \S+ \S+: wrong policy deployed/);
    expect((await f.run(['status', '--json'])).json<StatusJson>()).toMatchObject({ paused: true, paused_by: 'alice', pause_reason: 'wrong policy deployed' });
  });

  it('blocks runs while paused, and resume (by $USER@hostname by default) lets them go again', async () => {
    await f.insert([['st-3', 'a/st-3.pdf', 'System Testing', ago('3 days')]]);
    await f.touch('a/st-3.pdf');
    const blocked = await f.run(['run']);
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toMatch(/paused \(by alice/);
    expect(await f.exists('a/st-3.pdf')).toBe(true);

    const resumed = await f.run(['resume', '--reason', 'policy fixed', '--json']);
    expect(resumed.code).toBe(0);
    expect(resumed.json()).toMatchObject({
      paused: false,
      resumed_by: `oncall@${hostname()}`,
      was_paused: true,
      was_paused_by: 'alice',
      pause_reason: 'wrong policy deployed',
    });
    const audit = await f.db.pool.query(`SELECT details FROM audit_logs WHERE action = 'cleanup_resumed'`);
    expect(audit.rows).toMatchObject([{ details: { by: `oncall@${hostname()}`, reason: 'policy fixed', was_paused: true } }]);

    const human = await f.run(['resume']);
    expect(human.code).toBe(0);
    expect(human.lines[0]).toBe(`Lethe was not paused; nothing changed (recorded as resumed by oncall@${hostname()})`);
    const run = await f.run(['run', '--json']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(await f.exists('a/st-3.pdf')).toBe(false);
  });

  it('fails with exit 2 and a one-line error on a bad database URL', async () => {
    const r = await f.run(['status'], { DATABASE_URL: 'mysql://nope' });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('DATABASE_URL: expected a postgres:// URL');
  });
});
