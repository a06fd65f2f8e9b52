import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliFixture, type CliFixture } from './support/fixture.js';

let f: CliFixture;
const TOTAL = 600;

beforeAll(async () => {
  f = await createCliFixture('backlog');
  await f.db.pool.query(`INSERT INTO jobs (id, file_key, purpose_code, created_at)
    SELECT 'b-' || i, 'b/' || i || '.pdf', 'System Testing', (now() AT TIME ZONE 'UTC') - interval '3 days' - i * interval '1 second'
      FROM generate_series(1, ${TOTAL}) AS i`);
  for (let i = 1; i <= TOTAL; i++) await f.touch(`b/${i}.pdf`);
});

afterAll(async () => {
  await f.close();
});

interface Progress {
  msg: string;
  processed: number;
  total: number | null;
  etaSeconds: number | null;
}

const progressLines = (stderr: string): Progress[] =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Progress)
    .filter((p) => p.msg === 'progress');

describe('lethe run --backlog', () => {
  it('refuses --limit (exit 2)', async () => {
    const r = await f.run(['run', '--backlog', '--limit', '10']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--backlog: a backlog run has no limit');
  });

  it('counts the expired rows first and reports progress with a total and an ETA; a rerun picks up what is left', async () => {
    // A limited run leaves 500 expired rows behind, as an interrupted catch-up would.
    const first = await f.run(['run', '--limit', '100', '--json']);
    expect(first.json()).toMatchObject({ deleted_count: 100, status: 'completed' });

    const env = { LETHE_BATCH_SIZE: '50', LETHE_PROGRESS_INTERVAL_MS: '10' };
    const r = await f.run(['run', '--backlog', '--json'], env);
    expect(r.code).toBe(0);
    expect(r.json()).toMatchObject({ trigger: 'backlog', status: 'completed', deleted_count: TOTAL - 100, failed_count: 0, limit: null });
    const progress = progressLines(r.stderr);
    expect(progress.length).toBeGreaterThan(0);
    for (const p of progress) expect(p.total).toBe(TOTAL - 100);
    expect(progress.at(-1)!.processed).toBe(TOTAL - 100);
    expect(progress.some((p) => typeof p.etaSeconds === 'number')).toBe(true);
    expect(await f.exists('b/600.pdf')).toBe(false);

    const history = (await f.run(['history', '--json'])).json<{ runs: { trigger: string; deleted: number }[] }>();
    expect(history.runs.map((x) => [x.trigger, x.deleted])).toEqual([
      ['backlog', TOTAL - 100],
      ['manual', 100],
    ]);
  });
});
