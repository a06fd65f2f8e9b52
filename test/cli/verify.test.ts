import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_JOBS_TABLE, inspectJobsTable, placeHold } from '@lethe/engine';
import { ago, createCliFixture, type CliFixture } from './support/fixture.js';

let f: CliFixture;

beforeAll(async () => {
  f = await createCliFixture('verify');
  await f.insert([
    // Expired 2 days ago, file still there: overdue past a 24 h grace.
    ['late', 'v/late.pdf', 'System Testing', ago('3 days')],
    // Expired 6 hours ago, file still there: overdue, within the grace.
    ['recent', 'v/recent.pdf', 'System Testing', ago('30 hours')],
    // Expired, file already gone.
    ['gone', 'v/gone.pdf', 'General', ago('40 days')],
    // Expired, but a live row shares the file: rightly present.
    ['shared-old', 'v/shared.pdf', 'System Testing', ago('3 days')],
    ['shared-live', 'v/shared.pdf', 'General', ago('1 day')],
    // Expired, under a legal hold: rightly present.
    ['held', 'v/held.pdf', 'General', ago('45 days')],
    // Expired, with a key storage refuses to look at.
    ['evil', '../etc/passwd', 'System Testing', ago('3 days')],
    // Not expired.
    ['fresh', 'v/fresh.pdf', 'General', ago('2 days')],
  ]);
  for (const k of ['v/late.pdf', 'v/recent.pdf', 'v/shared.pdf', 'v/fresh.pdf', 'v/held.pdf']) await f.touch(k);
  await placeHold(f.db.pool, await inspectJobsTable(f.db.pool, DEFAULT_JOBS_TABLE), { target: { fileKey: 'v/held.pdf' }, reason: 'litigation', by: 'legal' });
});

afterAll(async () => {
  await f.close();
});

interface VerifyJson {
  checked: number;
  present: number;
  absent: number;
  shared: number;
  held: number;
  unverifiable: number;
  past_grace: number;
  grace_seconds: number;
  worst_overdue_seconds: number;
  findings: { job_id: string; file_key: string; purpose: string; overdue_seconds: number; past_grace: boolean }[];
  unverifiable_samples: { job_id: string; code: string }[];
  by_purpose: Record<string, { present: number; past_grace: number }>;
}

describe('lethe verify', () => {
  it('finds expired files still present, most overdue first, and exits 1 past the grace', async () => {
    const r = await f.run(['verify', '--json']);
    expect(r.code).toBe(1);
    const v = r.json<VerifyJson>();
    expect(v).toMatchObject({ checked: 6, present: 2, absent: 1, shared: 1, held: 1, unverifiable: 1, past_grace: 1, grace_seconds: 86_400 });
    expect(v.findings.map((x) => [x.job_id, x.past_grace])).toEqual([
      ['late', true],
      ['recent', false],
    ]);
    expect(v.findings[0]!.overdue_seconds).toBeGreaterThan(2 * 86_400 - 60);
    expect(v.findings[0]!.overdue_seconds).toBeLessThan(2 * 86_400 + 60);
    expect(v.worst_overdue_seconds).toBe(v.findings[0]!.overdue_seconds);
    expect(v.unverifiable_samples).toMatchObject([{ job_id: 'evil', code: 'LETHE_E_KEY_OUTSIDE_ROOT' }]);
    expect(v.by_purpose['System Testing']).toMatchObject({ present: 2, past_grace: 1 });

    const human = await f.run(['verify']);
    expect(human.code).toBe(1);
    expect(human.lines[0]).toMatch(/^Checked 6 expired rows \(expired before .*\) against file:\/\/.*; grace 1d$/);
    expect(human.stdout).toContain('2 expired files still present, 1 overdue by more than the grace; worst 2d:');
    expect(human.stdout).toMatch(/ {2}OVERDUE 2d +System Testing +v\/late\.pdf \(job late, expired /);
    expect(human.stdout).toMatch(/ {2}due {4} 6h +System Testing +v\/recent\.pdf/);
    expect(human.stdout).toContain('1 expired row whose file is already gone: the next run removes them');
    expect(human.stdout).toContain('1 expired row kept because a live row shares the file.');
    expect(human.stdout).toContain('1 expired row kept under a legal hold');
    expect(human.stdout).toContain('"../etc/passwd" (job evil): LETHE_E_KEY_OUTSIDE_ROOT');
    expect(human.lines.at(-1)).toMatch(/^FAIL: 1 file overdue by more than 1d\./);
  });

  it('exits 0 with a wider grace, and after a run has erased the overdue files', async () => {
    const wide = await f.run(['verify', '--grace', '3d', '--json']);
    expect(wide.code).toBe(0);
    expect(wide.json<VerifyJson>()).toMatchObject({ present: 2, past_grace: 0, grace_seconds: 3 * 86_400 });
    expect((await f.run(['run', '--json'])).code).toBe(0);
    const after = await f.run(['verify']);
    expect(after.code).toBe(0);
    expect(after.stdout).toContain('No expired file is still present.');
    expect(after.lines.at(-1)).toBe('OK: no expired file is overdue by more than 1d.');
  });

  it('rejects a bad grace and a missing storage with exit 2', async () => {
    const bad = await f.run(['verify', '--grace', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--grace: must be a positive duration like "365d"');
    const noStorage = await f.run(['verify'], { LETHE_STORAGE: undefined });
    expect(noStorage.code).toBe(2);
    expect(noStorage.stderr).toContain('LETHE_STORAGE: a storage URL is required');
  });
});
