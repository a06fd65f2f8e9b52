import { createEngine } from '@lethe/engine';
import { FakeClock } from '@lethe/engine/testing';
import { createDaemon } from '@lethe/daemon';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createDaemonFixture, seedExpired, type DaemonFixture } from './daemon-fixture.js';

let fixture: DaemonFixture | null = null;

afterEach(async (ctx) => {
  await fixture?.cleanup(ctx.task.result?.state === 'fail');
  fixture = null;
});

describe('createDaemon on real Postgres, driven by a fake clock', () => {
  it('publishes the next run, runs the claimed slot when the clock reaches it, and stops cleanly', async () => {
    const f = (fixture = await createDaemonFixture('daemon_inproc'));
    await seedExpired(f, 5);
    const clock = new FakeClock(Date.parse('2025-11-30T01:59:00Z'));
    const engine = createEngine({ databaseUrl: f.db.url, storage: `file://${f.root}`, threads: 1 });
    const daemon = createDaemon({ engine, clock, timezone: 'Asia/Kolkata', schedule: '30 7 * * *', instanceId: 'pod-a', heartbeatIntervalMs: 5_000 });
    try {
      const started = await daemon.start();
      // 07:30 IST is 02:00 UTC: the runbook's instant, written as the operators think of it.
      expect(started).toEqual({ instanceId: 'pod-a', httpPort: null, nextRun: '2025-11-30T02:00:00.000Z' });
      expect(daemon.ready()).toBe(true);
      const beat = await f.db.pool.query('SELECT instance_id, state, next_run, period_ms, timezone FROM lethe_schedulers');
      expect(beat.rows).toEqual([
        { instance_id: 'pod-a', state: 'running', next_run: new Date('2025-11-30T02:00:00Z'), period_ms: '86400000', timezone: 'Asia/Kolkata' },
      ]);

      await vi.waitFor(() => expect(clock.pendingSleeps).toBe(3), { interval: 5 }); // heartbeat, pause watch, schedule
      clock.advance(60_000);
      const claim = await vi.waitFor(
        async () => {
          const { rows } = await f.db.pool.query<{ instance_id: string; status: string; deleted: string }>(
            `SELECT c.instance_id, r.status, r.summary->>'deleted_count' AS deleted FROM lethe_schedule_claims c JOIN lethe_runs r ON r.id = c.run_id WHERE r.status <> 'running'`,
          );
          expect(rows).toHaveLength(1);
          return rows[0]!;
        },
        { timeout: 20_000, interval: 20 },
      );
      expect(claim).toEqual({ instance_id: 'pod-a', status: 'completed', deleted: '5' });
      await vi.waitFor(() => expect(daemon.nextRun()).toBe('2025-12-01T02:00:00.000Z'), { interval: 5 });
    } finally {
      const report = await daemon.stop('test over');
      expect(report).toMatchObject({ clean: true, unfinished: [] });
    }
    expect(daemon.ready()).toBe(false);
    const beat = await f.db.pool.query('SELECT state, next_run FROM lethe_schedulers');
    expect(beat.rows).toEqual([{ state: 'stopped', next_run: null }]);
    await expect(engine.pool.query('SELECT 1')).rejects.toThrow(); // the daemon closed its engine
  });
});
