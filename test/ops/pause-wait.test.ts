import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, eventually, spawnLethe } from '../daemon/daemon-process.js';
import { ago, createCliFixture, type CliFixture } from '../cli/support/fixture.js';

/**
 * Operations (runbook EMERGENCY-001 steps 1-2): `lethe status` shows the run in progress (id, host,
 * started, progress, heartbeat), and `lethe pause --wait` returns only once no run is in flight.
 */
let f: CliFixture;

beforeAll(async () => {
  assertBuilt();
  f = await createCliFixture('ops_pausewait');
});
afterAll(async () => {
  await f.close();
});

interface InFlight {
  id: string;
  host: string;
  pid: number;
  fresh: boolean;
  dry_run: boolean;
  heartbeat_age_seconds: number;
  progress: { processed: number } | null;
}

describe('lethe pause --wait', () => {
  it('pauses, waits for the run in flight to stop at its batch boundary, and says so; status showed the run first', async () => {
    const keys = Array.from({ length: 400 }, (_, i) => `w/${i}.pdf`);
    await f.insert(keys.map((k) => [k, k, 'System Testing', ago('2 days')] as const));
    await Promise.all(keys.map((k) => f.touch(k)));
    // 10 deletes/s: the run lasts about 40 s, far longer than the steps before the pause, even on a loaded machine.
    const run = spawnLethe(['run'], { ...f.env, LETHE_DELETES_PER_SECOND: '10', LETHE_BATCH_SIZE: '20', LETHE_PROGRESS_INTERVAL_MS: '100' });
    try {
      const runId = await eventually(
        'the run to report progress',
        async () => {
          const { rows } = await f.db.pool.query<{ id: string }>(
            `SELECT id::text FROM lethe_runs WHERE status = 'running' AND (progress->>'processed')::int > 0`,
          );
          return rows[0]?.id;
        },
        30_000,
      );
      const [status, human] = await Promise.all([f.run(['status', '--json']), f.run(['status'])]);
      const live = status.json<{ runs_in_flight: InFlight[] }>().runs_in_flight;
      expect(live).toMatchObject([{ id: runId, host: hostname(), fresh: true, dry_run: false, progress: { processed: expect.any(Number) } }]);
      expect(human.stdout).toMatch(
        new RegExp(
          `In progress: +run ${runId} \\(manual\\) on ${hostname()} pid \\d+ v\\S+, since \\S+ \\S+, \\d+/400 \\(\\d+(\\.\\d)?%\\) processed \\(\\d+ deleted, 0 failed\\); last heartbeat \\S+ ago`,
        ),
      );

      const paused = await f.run(['pause', '--reason', 'EMERGENCY-001 drill', '--wait', '--timeout', '60s', '--json']);
      expect(paused.code).toBe(0);
      expect(paused.json()).toMatchObject({ paused: true, reason: 'EMERGENCY-001 drill', current_run: null, wait: { idle: true, still_running: [] } });
      const { rows } = await f.db.pool.query<{ status: string }>(`SELECT status FROM lethe_runs WHERE id = $1`, [runId]);
      expect(rows[0]!.status).toBe('paused');
      expect((await run.exited).code).toBe(1);
    } finally {
      await run.kill();
      await f.db.pool.query(`UPDATE lethe_control SET paused = false`);
    }
  });

  it('exits 1 with a clear message when a run is still in flight at --timeout; a run with a stale heartbeat is not waited for', async () => {
    const id = '0a4c9d2e-1111-4000-8000-00000000f00d';
    await f.db.pool.query(
      `INSERT INTO lethe_runs (id, trigger, status, host, pid, version, started_at, heartbeat_at, progress)
       VALUES ($1, 'schedule', 'running', 'api-7d9f', 4242, '0.0.9', now() - interval '5 minutes', now(), '{"processed": 1200, "deleted": 1190, "failed": 0, "total": 50000}')`,
      [id],
    );
    const timedOut = await f.run(['pause', '--reason', 'INC-9', '--wait', '--timeout', '1s', '--json']);
    expect(timedOut.code).toBe(1);
    expect(timedOut.stderr).toContain(`lethe: --timeout: run ${id} on api-7d9f is still in flight after 1s; Lethe stays paused`);
    expect(timedOut.json()).toMatchObject({ paused: true, wait: { idle: false, still_running: [{ id, host: 'api-7d9f', fresh: true }] } });
    const human = await f.run(['status']);
    expect(human.stdout).toMatch(
      new RegExp(
        `In progress: +run ${id} \\(schedule\\) on api-7d9f pid 4242 v0\\.0\\.9, since \\S+ \\S+, 1,200/50,000 \\(2\\.4%\\) processed \\(1,190 deleted, 0 failed\\); last heartbeat`,
      ),
    );

    await f.db.pool.query(`UPDATE lethe_runs SET heartbeat_at = now() - interval '10 minutes' WHERE id = $1`, [id]);
    const idle = await f.run(['pause', '--reason', 'INC-9', '--wait', '--timeout', '30s']);
    expect(idle.code).toBe(0);
    expect(idle.lines[1]).toMatch(/^No run is in flight \(waited \S+\)\./);
    expect((await f.run(['status'])).stdout).toMatch(/NO HEARTBEAT for 10m: its process is probably gone/);

    const [noWait, badTimeout] = await Promise.all([
      f.run(['pause', '--reason', 'x', '--timeout', '5m']),
      f.run(['pause', '--reason', 'x', '--wait', '--timeout', 'soon']),
    ]);
    expect(noWait.code).toBe(2);
    expect(noWait.stderr).toContain('--timeout: only with --wait');
    expect(badTimeout.code).toBe(2);
    expect(badTimeout.stderr).toContain('--timeout: expected a duration like "90s", "5m" or "1h"');
  });
});
