import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ago, createCliFixture, type CliFixture } from './support/fixture.js';

let f: CliFixture;

beforeAll(async () => {
  f = await createCliFixture('policies');
  await f.insert([
    ['g-5d', 'p/g-5d.pdf', 'General', ago('5 days')],
    ['g-12d', 'p/g-12d.pdf', 'General', ago('12 days')],
    ['g-20d', 'p/g-20d.pdf', 'General', ago('20 days')],
    ['g-25d', 'p/shared.pdf', 'General', ago('25 days')],
    ['g-26d', 'p/shared.pdf', 'General', ago('26 days')],
    ['g-40d', 'p/g-40d.pdf', 'General', ago('40 days')],
  ]);
});

afterAll(async () => {
  await f.close();
});

interface Overview {
  current: { version: number; policies: Record<string, string> };
  versions: { version: number; created_by: string; reason: string | null; changes: { purpose: string; from: string | null; to: string | null }[] }[];
}
interface Change {
  applied: boolean;
  needs_confirm: boolean;
  shortening: boolean;
  unchanged: boolean;
  newly_expired_rows: number;
  newly_expired_files: number;
  version: number;
  from: string;
  to: string;
}

const versions = async (): Promise<number> => (await f.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM lethe_policy_versions')).rows[0]!.n;

describe('lethe policies', () => {
  it('shows the policies in force, shortest first, and their versions', async () => {
    const r = await f.run(['policies', '--json']);
    expect(r.code).toBe(0);
    const o = r.json<Overview>();
    expect(o.current.version).toBe(1);
    expect(Object.entries(o.current.policies)).toEqual([
      ['System Testing', '24 hours'],
      ['General', '30 days'],
      ['Financial', '1 year'],
      ['Legal', '7 years'],
      ['Medical', '10 years'],
    ]);
    const human = await f.run(['policies', 'show']);
    expect(human.lines[0]).toMatch(/^Retention policies in force: version 1, by lethe migrate at /);
    expect(human.stdout).toMatch(/ {2}System Testing {2}24 hours\n/);
  });

  it('a shortening shows how many rows it makes expired at once and saves nothing without --confirm (exit 2)', async () => {
    const r = await f.run(['policies', 'set', 'General', '10d', '--json']);
    expect(r.code).toBe(2);
    expect(r.json<Change>()).toMatchObject({
      applied: false,
      needs_confirm: true,
      shortening: true,
      newly_expired_rows: 4,
      newly_expired_files: 3,
      from: '30 days',
      to: '10 days',
      version: 1,
    });
    expect(r.stderr).toContain('lethe: --confirm: shortening "General" from 30 days to 10 days makes 4 rows expired at once; nothing was saved');
    const human = await f.run(['policies', 'set', 'General', '10d']);
    expect(human.code).toBe(2);
    expect(human.lines).toEqual([
      'Shortening General from 30 days to 10 days: 4 rows (3 files) would become expired at once; the next run deletes them.',
      'Not saved: add --confirm to apply it.',
    ]);
    expect(await versions()).toBe(1);
  });

  it('with --confirm it saves a new version and audits it; lengthening needs no confirmation; the same value changes nothing', async () => {
    const r = await f.run(['policies', 'set', 'General', '10d', '--confirm', '--reason', 'legal review', '--by', 'carol', '--json']);
    expect(r.code).toBe(0);
    expect(r.json<Change>()).toMatchObject({ applied: true, version: 2, newly_expired_rows: 4 });
    const audit = await f.db.pool.query(`SELECT details FROM audit_logs WHERE action = 'cleanup_policy_changed'`);
    expect(audit.rows).toMatchObject([
      {
        details: {
          by: 'carol',
          reason: 'legal review',
          purpose: 'General',
          from: '30 days',
          to: '10 days',
          version: 2,
          previous_version: 1,
          newly_expired_rows: 4,
          confirmed: true,
        },
      },
    ]);
    // The new policy is what the next run applies.
    const dry = (await f.run(['run', '--dry-run', '--json'])).json<{ would_delete_count: number; policy_version: number }>();
    expect(dry).toMatchObject({ would_delete_count: 5, policy_version: 2 });

    const longer = await f.run(['policies', 'set', 'Financial', '2y']);
    expect(longer.code).toBe(0);
    expect(longer.lines[0]).toMatch(/^Financial: 1 year -> 2 years, saved as policy version 3 \(was 2\) by oncall@/);
    const same = await f.run(['policies', 'set', 'Financial', '2 years', '--json']);
    expect(same.code).toBe(0);
    expect(same.json<Change>()).toMatchObject({ unchanged: true, applied: false, version: 3 });
    expect(await versions()).toBe(3);

    const o = (await f.run(['policies', '--json'])).json<Overview>();
    expect(o.versions.map((v) => [v.version, v.created_by, v.changes])).toEqual([
      [3, expect.stringMatching(/^oncall@/), [{ purpose: 'Financial', from: '1 year', to: '2 years' }]],
      [2, 'carol', [{ purpose: 'General', from: '30 days', to: '10 days' }]],
      [1, 'lethe migrate', []],
    ]);
    const human = await f.run(['policies']);
    expect(human.stdout).toMatch(/ {2}v2 {2}\S+ \S+ {2}carol {2}General: 30 days -> 10 days {2}\(legal review\)/);
  });

  it('rejects an unknown purpose or a bad duration with exit 2 and a one-line error', async () => {
    const unknown = await f.run(['policies', 'set', 'Marketing', '30d']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim()).toMatch(/^lethe: LETHE_E_POLICY_UNKNOWN: purpose: unknown purpose "Marketing"; expected one of .*"General"/);
    for (const bad of ['soon', '0d']) {
      const r = await f.run(['policies', 'set', 'General', bad]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toMatch(/^lethe: LETHE_E_POLICY_INVALID: duration: must be/);
    }
    expect((await f.run(['policies', 'set', 'General'])).code).toBe(2);
    expect(await versions()).toBe(3);
  });
});
