import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliFixture, DAY_MS, type CliFixture } from './support/fixture.js';

// The orphan share is over every file reconcile looked at, not only those past the minimum age:
// 3 old orphans among 103 files is 2.9% (under the 5% guard), not "3 of 3, 100%".
let f: CliFixture;

beforeAll(async () => {
  f = await createCliFixture('reconcile_share');
  for (let i = 0; i < 3; i++) await f.touch(`s/old-${i}.pdf`, 3 * DAY_MS);
  for (let i = 0; i < 100; i++) await f.touch(`s/young-${i}.pdf`);
});

afterAll(async () => {
  await f.close();
});

interface Side {
  checked: number;
  skipped: number;
  looked_at: number;
  orphans: number;
  share: number;
}

describe('lethe reconcile: the orphan share', () => {
  it('counts the files newer than the minimum age in the share', async () => {
    const r = await f.run(['reconcile', '--json']);
    const rec = r.json<{ status: string; files: Side }>();
    expect(rec.status).toBe('dry_run');
    expect(rec.files).toMatchObject({ checked: 3, skipped: 100, looked_at: 103, orphans: 3 });
    expect(rec.files.share).toBeCloseTo(3 / 103, 6);
    const human = await f.run(['reconcile']);
    expect(human.stdout).toContain('Orphan files: 3 of 103 files looked at (2.9%); 100 newer than the minimum age left alone');
    expect(human.stdout).not.toContain('REFUSED');
  });

  it('allows --min-age 0 with a warning', async () => {
    const r = await f.run(['reconcile', '--min-age', '0', '--json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('warning: --min-age 0');
    expect(r.json<{ min_age_seconds: number; files: Side }>()).toMatchObject({ min_age_seconds: 0, files: { checked: 103, skipped: 0, orphans: 103 } });
  });
});
