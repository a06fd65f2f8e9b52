import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliFixture, type CliFixture } from '../cli/support/fixture.js';

/**
 * Runbook OP-002/FM-001: a daemon that stopped cleanly leaves `lethe status` (and health) 7 days
 * after its last beat; one that died (STALE, still `running`) stays listed however old.
 */
let f: CliFixture;

interface Status {
  stopped_retention_ms: number;
  health: { reasons: string[] };
  schedulers: { instance_id: string; state: string; alive: boolean }[];
}

beforeAll(async () => {
  f = await createCliFixture('stopped_retention');
  await f.db.pool.query(
    `INSERT INTO lethe_schedulers (instance_id, host, pid, version, schedule, timezone, period_ms, next_run, state, started_at, last_beat) VALUES
       ('alive-1', 'h1', 1, '0.1.0', '0 2 * * *', 'UTC', 86400000, now() + interval '1 hour', 'running', now() - interval '1 day', now()),
       ('stopped-2d', 'h2', 2, '0.1.0', '0 2 * * *', 'UTC', 86400000, NULL, 'stopped', now() - interval '3 days', now() - interval '2 days'),
       ('stopped-8d', 'h3', 3, '0.1.0', '0 2 * * *', 'UTC', 86400000, NULL, 'stopped', now() - interval '9 days', now() - interval '8 days'),
       ('stopped-40d', 'h4', 4, '0.1.0', '0 2 * * *', 'UTC', 86400000, NULL, 'stopped', now() - interval '41 days', now() - interval '40 days'),
       ('died-30d', 'h5', 5, '0.1.0', '0 2 * * *', 'UTC', 86400000, NULL, 'running', now() - interval '31 days', now() - interval '30 days')`,
  );
});

afterAll(async () => {
  await f.close();
});

describe('lethe status: schedulers that stopped long ago', () => {
  it('lists stopped daemons for 7 days after their last beat, and a dead one however old', async () => {
    const r = await f.run(['status', '--json']);
    const s = r.json<Status>();
    expect(s.stopped_retention_ms).toBe(7 * 86_400_000);
    expect(s.schedulers.map((d) => d.instance_id)).toEqual(['alive-1', 'stopped-2d', 'died-30d']);
    const text = await f.run(['status']);
    expect(text.stdout).toContain('stopped-2d');
    expect(text.stdout).not.toContain('stopped-8d');
    expect(text.stdout).toMatch(/died-30d .*STALE/);
  });

  it('--stopped-retention keeps them longer', async () => {
    const s = (await f.run(['status', '--json', '--stopped-retention', '30d'])).json<Status>();
    expect(s.schedulers.map((d) => d.instance_id)).toEqual(['alive-1', 'stopped-2d', 'stopped-8d', 'died-30d']);
  });

  it('rejects a malformed retention, naming the flag', async () => {
    const r = await f.run(['status', '--stopped-retention', 'soon']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--stopped-retention');
  });
});
