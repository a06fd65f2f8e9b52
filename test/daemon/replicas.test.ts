import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDaemonFixture, seedExpired, type DaemonFixture } from './daemon-fixture.js';
import { assertBuilt, eventually, exitWithin, spawnLethe, type LetheProcess } from './daemon-process.js';

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

let fixture: DaemonFixture | null = null;
let daemons: LetheProcess[] = [];

beforeAll(() => assertBuilt());

afterEach(async (ctx) => {
  await Promise.all(daemons.map((d) => d.kill()));
  daemons = [];
  await fixture?.cleanup(ctx.task.result?.state === 'fail');
  fixture = null;
});

describe('daemon replicas on one database', () => {
  it('three daemons firing every 2 s: each slot is claimed and run exactly once, runs never overlap', async () => {
    const f = (fixture = await createDaemonFixture('daemon_replicas'));
    const keys = await seedExpired(f, 40);
    const env = { ...f.env, LETHE_SCHEDULE: '*/2 * * * * *', LETHE_HTTP_PORT: '0', LETHE_SHUTDOWN_TIMEOUT_MS: '15000' };
    daemons = [0, 1, 2].map(() => spawnLethe(['daemon'], env));
    const started = await Promise.all(daemons.map((d) => d.waitForLine('daemon started', (l) => l.msg === 'daemon started')));
    const allUpMs = Math.max(...started.map((l) => Date.parse(String(l.time))));

    // Four slots after every replica was up, each with a finished run.
    const slots = await eventually('four slots run while all three replicas were up', async () => {
      const { rows } = await f.db.pool.query<{ slot: Date; instance_id: string; status: string }>(
        `SELECT c.slot, c.instance_id, r.status FROM lethe_schedule_claims c JOIN lethe_runs r ON r.id = c.run_id
          WHERE c.slot > to_timestamp($1::double precision / 1000) AND r.status <> 'running' ORDER BY c.slot`,
        [allUpMs],
      );
      return rows.length >= 4 ? rows : undefined;
    });
    const exits = await Promise.all(daemons.map((d) => (d.child.kill('SIGTERM'), exitWithin(d, 20_000))));
    expect(exits.map((e) => e.code)).toEqual([0, 0, 0]);

    for (const s of slots) expect(s.status).toBe('completed');
    // Each slot: exactly one replica ran it; the others that fired for it logged that another had it.
    // (Under heavy load a replica still busy with its own fire may not fire for a 2 s slot at all, so
    // "the others" can be fewer than two; the replicas must still have competed for the slots.)
    let competed = 0;
    for (const s of slots) {
      const slot = s.slot.toISOString();
      const ran = daemons.flatMap((d) => d.lines).filter((l) => l.slot === slot && l.msg === 'slot claimed; running it');
      const elsewhere = daemons.flatMap((d) => d.lines).filter((l) => l.slot === slot && l.msg === 'slot claimed by another replica; not running it here');
      expect({ slot, ran: ran.length }).toEqual({ slot, ran: 1 });
      expect(elsewhere.length).toBeLessThanOrEqual(2);
      competed += elsewhere.length;
    }
    expect(competed).toBeGreaterThanOrEqual(slots.length);
    // Every scheduled run belongs to exactly one claim, and no two runs overlapped in time.
    const runs = await f.db.pool.query<{ id: string; started_at: Date; ended_at: Date; claims: number }>(
      `SELECT r.id, r.started_at, r.ended_at, (SELECT count(*)::int FROM lethe_schedule_claims c WHERE c.run_id = r.id) AS claims
         FROM lethe_runs r WHERE r.trigger = 'schedule' ORDER BY r.started_at`,
    );
    expect(runs.rows.length).toBeGreaterThanOrEqual(4);
    for (const r of runs.rows) expect(r.claims).toBe(1);
    for (let i = 1; i < runs.rows.length; i++) expect(runs.rows[i]!.started_at.getTime()).toBeGreaterThanOrEqual(runs.rows[i - 1]!.ended_at.getTime());
    const perSlot = await f.db.pool.query(`SELECT slot FROM lethe_schedule_claims WHERE run_id IS NOT NULL GROUP BY slot HAVING count(*) > 1`);
    expect(perSlot.rows).toEqual([]);

    // The expired files went once: one ledger row each, no row left, no file left.
    const ledger = await f.db.pool.query<{ n: number; distinct_jobs: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT job_id)::int AS distinct_jobs FROM lethe_ledger`,
    );
    expect(ledger.rows[0]).toEqual({ n: keys.length, distinct_jobs: keys.length });
    expect((await f.db.pool.query('SELECT 1 FROM jobs')).rowCount).toBe(0);
    for (const k of keys.slice(0, 5)) expect(await exists(join(f.root, k))).toBe(false);
    // Each replica's heartbeat says it stopped.
    const beats = await f.db.pool.query<{ state: string }>('SELECT state FROM lethe_schedulers');
    expect(beats.rows.map((b) => b.state)).toEqual(['stopped', 'stopped', 'stopped']);
  });

  it('two daemons starting after a missed night catch up once, not once each', async () => {
    const f = (fixture = await createDaemonFixture('daemon_catchup'));
    const keys = await seedExpired(f, 10);
    // The last successful run was three days ago: the daily 02:00 fires since were missed.
    await f.db.pool.query(
      `INSERT INTO lethe_runs (id, trigger, status, started_at, ended_at) VALUES (gen_random_uuid(), 'schedule', 'completed', now() - interval '3 days', now() - interval '3 days')`,
    );
    const env = { ...f.env, LETHE_HTTP_PORT: '0' }; // default schedule: 0 2 * * * UTC
    daemons = [spawnLethe(['daemon'], env), spawnLethe(['daemon'], env)];
    const summary = await Promise.any(
      daemons.map((d) => d.waitForLine('the catch-up run summary', (l) => l.msg === 'run summary' && l.trigger === 'catch-up')),
    );
    expect(summary).toMatchObject({ status: 'completed', deleted_count: keys.length });
    // The other replica either lost the claim or, starting a moment later, found the run already done.
    const other = daemons.find((d) => !d.lines.includes(summary))!;
    const stoodDown = await other.waitForLine(
      'the other replica standing down',
      (l) => l.msg.startsWith('another replica is catching up') || l.msg === 'no catch-up run needed',
    );
    expect(other.lines.some((l) => l.msg === 'run summary')).toBe(false);
    expect(stoodDown.msg).toMatch(/^(another replica is catching up|no catch-up run needed)/);
    const exits = await Promise.all(daemons.map((d) => (d.child.kill('SIGTERM'), exitWithin(d, 20_000))));
    expect(exits.map((e) => e.code)).toEqual([0, 0]);
    const runs = await f.db.pool.query<{ trigger: string; status: string }>(`SELECT trigger, status FROM lethe_runs WHERE trigger = 'catch-up'`);
    expect(runs.rows).toEqual([{ trigger: 'catch-up', status: 'completed' }]);
  });
});
