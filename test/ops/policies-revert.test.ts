import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ago, createCliFixture, type CliFixture } from '../cli/support/fixture.js';

/** Operations (runbook FM-003 "fix the policy"): `lethe policies history` and `lethe policies revert`. */
let f: CliFixture;

beforeAll(async () => {
  f = await createCliFixture('ops_revert');
  await f.insert([
    ['g-5d', 'r/g-5d.pdf', 'General', ago('5 days')],
    ['g-40d', 'r/g-40d.pdf', 'General', ago('40 days')],
    ['g-45d', 'r/shared.pdf', 'General', ago('45 days')],
    ['g-50d', 'r/shared.pdf', 'General', ago('50 days')],
  ]);
});
afterAll(async () => {
  await f.close();
});

interface Revert {
  applied: boolean;
  needs_confirm: boolean;
  unchanged: boolean;
  shortening: boolean;
  revert_to: number;
  version: number;
  previous_version: number;
  newly_expired_rows: number;
  newly_expired_files: number;
  changes: { purpose: string; from: string; to: string; shortening: boolean }[];
}

const versions = async (): Promise<number> => (await f.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM lethe_policy_versions')).rows[0]!.n;

describe('lethe policies history / revert', () => {
  it('a revert that shortens needs --confirm (exit 2, nothing saved); with it, a new version and an audit row naming the version', async () => {
    expect((await f.run(['policies', 'set', 'General', '60d', '--reason', 'legal hold on everything', '--by', 'alice'])).code).toBe(0);
    const refused = await f.run(['policies', 'revert', '1', '--json']);
    expect(refused.code).toBe(2);
    expect(refused.json<Revert>()).toMatchObject({
      applied: false,
      needs_confirm: true,
      shortening: true,
      revert_to: 1,
      version: 2,
      newly_expired_rows: 3,
      newly_expired_files: 2,
      changes: [{ purpose: 'General', from: '60 days', to: '30 days', shortening: true }],
    });
    expect(refused.stderr).toContain('lethe: --confirm: reverting to version 1 shortens a retention and makes 3 rows expired at once; nothing was saved');
    expect(await versions()).toBe(2);

    const applied = await f.run(['policies', 'revert', '1', '--confirm', '--reason', 'INC-4711 rollback', '--by', 'carol']);
    expect(applied.code).toBe(0);
    expect(applied.lines).toEqual([
      'Reverted to the policies of version 1: saved as policy version 3 (was 2) by carol.',
      '  General: 60 days -> 30 days; 3 rows (2 files) became expired at once',
      'Recorded in audit_logs (action cleanup_policy_changed, revert_to).',
    ]);
    const audit = await f.db.pool.query(`SELECT details FROM audit_logs WHERE action = 'cleanup_policy_changed' ORDER BY id DESC LIMIT 1`);
    expect(audit.rows[0].details).toMatchObject({
      by: 'carol',
      reason: 'INC-4711 rollback',
      revert_to: 1,
      version: 3,
      previous_version: 2,
      confirmed: true,
      newly_expired_rows: 3,
      source: 'lethe',
    });
  });

  it('a lengthening revert needs no confirmation; reverting to what is in force changes nothing; history lists every version', async () => {
    const longer = await f.run(['policies', 'revert', '2', '--json']);
    expect(longer.code).toBe(0);
    expect(longer.json<Revert>()).toMatchObject({
      applied: true,
      shortening: false,
      version: 4,
      revert_to: 2,
      changes: [{ purpose: 'General', from: '30 days', to: '60 days' }],
    });
    const same = await f.run(['policies', 'revert', '4']);
    expect(same.code).toBe(0);
    expect(same.lines).toEqual(['The policies in force (version 4) are already those of version 4; nothing changed.']);

    const [history, human] = await Promise.all([f.run(['policies', 'history', '--json']), f.run(['policies', 'history', '-n', '2'])]);
    expect(history.code).toBe(0);
    const h = history.json<{ current_version: number; versions: { version: number; created_by: string; reason: string | null; changes: unknown[] }[] }>();
    expect(h.current_version).toBe(4);
    expect(h.versions.map((v) => [v.version, v.created_by, v.reason])).toEqual([
      [4, expect.any(String), 'revert to policy version 2'],
      [3, 'carol', 'INC-4711 rollback'],
      [2, 'alice', 'legal hold on everything'],
      [1, 'lethe migrate', 'initial policies'],
    ]);
    expect(human.lines[0]).toBe('Versions (newest first):');
    expect(human.lines).toHaveLength(3);
    expect(human.lines[2]).toMatch(/^ {2}v3 .* carol {2}General: 60 days -> 30 days {2}\(INC-4711 rollback\)$/);
  });

  it('an unknown or malformed version is exit 2 with one line naming it', async () => {
    const [missing, malformed] = await Promise.all([f.run(['policies', 'revert', '99']), f.run(['policies', 'revert', 'v1'])]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe('lethe: LETHE_E_CONFIG: version: there is no policy version 99 (versions are 1 to 4; see `lethe policies history`)');
    expect(malformed.code).toBe(2);
    expect(malformed.stderr.trim()).toBe('lethe: LETHE_E_CONFIG: version: expected a policy version number like 2, got "v1"');
  });
});
