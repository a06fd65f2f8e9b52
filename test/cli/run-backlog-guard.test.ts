import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ago, createCliFixture, type CliFixture } from './support/fixture.js';

// Runbook OP-001: a backlog run is an operator's explicit catch-up. When the blast-radius guard
// would refuse it, it is refused up front (exit 2) WITHOUT pausing the scheduled runs; a dry run
// warns that a real run would be refused.
let f: CliFixture;
const GUARD = { LETHE_MAX_DELETES_PER_RUN: '5' };

beforeAll(async () => {
  f = await createCliFixture('backlog_guard');
  const rows = Array.from({ length: 10 }, (_, i) => [`g-${i}`, `g/${i}.pdf`, 'System Testing', ago('3 days')] as const);
  await f.insert(rows);
  for (const r of rows) await f.touch(r[1]);
});

afterAll(async () => {
  await f.close();
});

const paused = async (): Promise<boolean> => (await f.db.pool.query<{ paused: boolean }>('SELECT paused FROM lethe_control WHERE id = 1')).rows[0]!.paused;

describe('lethe run --backlog and the blast-radius guard', () => {
  it('a dry run warns when a real run would be refused (stderr, and blast_radius_warning in --json)', async () => {
    const r = await f.run(['run', '--dry-run', '--json'], GUARD);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('a real run now would be refused by the blast-radius guard');
    expect(r.json()).toMatchObject({ dry_run: true, would_delete_count: 10, blast_radius_warning: { allowed: false, wouldErase: 10, threshold: 5 } });
    const quiet = await f.run(['run', '--dry-run', '--json']);
    expect(quiet.json()).toMatchObject({ blast_radius_warning: null });
    expect(quiet.stderr).not.toContain('would be refused');
  });

  it('a refused backlog run exits 2, deletes nothing and does not pause Lethe; --allow-large proceeds', async () => {
    const r = await f.run(['run', '--backlog'], GUARD);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Backlog: 10 expired rows to erase');
    expect(r.stderr).toContain('Lethe was not paused');
    expect(r.stderr).toContain('--allow-large');
    expect(await paused()).toBe(false);
    expect(await f.exists('g/0.pdf')).toBe(true);

    const json = await f.run(['run', '--backlog', '--json'], GUARD);
    expect(json.code).toBe(2);
    expect(json.json()).toMatchObject({ error: { code: 'LETHE_E_BLAST_RADIUS' }, expired: 10, blast_radius: { allowed: false } });
    expect(await paused()).toBe(false);

    const ok = await f.run(['run', '--backlog', '--allow-large', '--json'], GUARD);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toContain('Backlog: 10 expired rows to erase');
    expect(ok.json()).toMatchObject({ status: 'completed', deleted_count: 10 });
    expect(await paused()).toBe(false);
  });
});
