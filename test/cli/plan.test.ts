import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ago, createCliFixture, type CliFixture } from './support/fixture.js';

let f: CliFixture;

beforeAll(async () => {
  f = await createCliFixture('plan');
  await f.insert([
    ['st-expired', 'n/st-expired.pdf', 'System Testing', ago('30 hours')],
    ['st-1h', 'n/st-1h.pdf', 'System Testing', ago('23 hours')],
    ['st-22h', 'n/st-22h.pdf', 'System Testing', ago('2 hours')],
    ['gen-30h', 'n/gen-30h.pdf', 'General', ago('28 days 18 hours')],
    ['gen-20d', 'n/gen-20d.pdf', 'General', ago('10 days')],
    ['fin-65d', 'n/fin.pdf', 'Financial', ago('300 days')],
    ['mkt', 'n/mkt.pdf', 'Marketing', ago('3 days')],
  ]);
});

afterAll(async () => {
  await f.close();
});

interface PlanJson {
  policy_version: number;
  purposes: {
    purpose: string;
    retention: string;
    expired: number;
    expiring: Record<string, number>;
    next_expiry_at: string | null;
    oldest_expired_at: string | null;
  }[];
  unreadable: { purpose: string | null; reason: string; count: number }[];
}

describe('lethe plan', () => {
  it('says what expires when, by purpose', async () => {
    const r = await f.run(['plan', '--json']);
    expect(r.code).toBe(0);
    const p = r.json<PlanJson>();
    const by = Object.fromEntries(p.purposes.map((x) => [x.purpose, x]));
    expect(p.purposes.map((x) => x.purpose)).toEqual(['System Testing', 'General', 'Financial', 'Legal', 'Medical']);
    expect(by['System Testing']).toMatchObject({ retention: '24 hours', expired: 1, expiring: { '24h': 2, '7d': 2, '30d': 2, '90d': 2 } });
    expect(by.General).toMatchObject({ expired: 0, expiring: { '24h': 0, '7d': 1, '30d': 2, '90d': 2 } });
    expect(by.Financial).toMatchObject({ expired: 0, expiring: { '24h': 0, '7d': 0, '30d': 0, '90d': 1 } });
    expect(by.Legal).toMatchObject({ expired: 0, next_expiry_at: null, oldest_expired_at: null });
    expect(Date.parse(by['System Testing']!.next_expiry_at!) - Date.now()).toBeLessThan(3_600_000);
    expect(p.unreadable).toMatchObject([{ purpose: 'Marketing', reason: 'unknown_purpose', count: 1 }]);

    const human = await f.run(['plan']);
    expect(human.lines[1]).toMatch(/^purpose +retention +expired now +next 24h +next 7d +next 30d +next 90d +next expiry$/);
    expect(human.stdout).toMatch(/\nSystem Testing +24 hours +1 +2 +2 +2 +2 +\S+ \S+Z\n/);
    expect(human.stdout).toContain('Never judged: 1 row with no policy for purpose "Marketing"');
  });

  it('--within lists the files expiring in the window as JSON lines, soonest first', async () => {
    const r = await f.run(['plan', '--within', '48h']);
    expect(r.code).toBe(0);
    const files = r.lines.map((l) => JSON.parse(l) as { job_id: string; file_key: string; purpose: string; expires_at: string; expires_in_seconds: number });
    expect(files.map((x) => x.job_id)).toEqual(['st-1h', 'st-22h', 'gen-30h']);
    expect(files[0]).toMatchObject({ file_key: 'n/st-1h.pdf', purpose: 'System Testing' });
    for (const x of files) {
      expect(x.expires_in_seconds).toBeGreaterThan(0);
      expect(x.expires_in_seconds).toBeLessThan(48 * 3600);
    }
    expect(r.stderr).toBe('');
  });

  it('streams a large window in batches', async () => {
    await f.db.pool.query(`INSERT INTO jobs (id, file_key, purpose_code, created_at)
      SELECT 'bulk-' || i, 'bulk/' || i || '.pdf', 'System Testing', (now() AT TIME ZONE 'UTC') - interval '12 hours' + i * interval '1 millisecond'
        FROM generate_series(1, 2500) AS i`);
    const r = await f.run(['plan', '--within', '1d'], { LETHE_BATCH_SIZE: '1000' });
    expect(r.code).toBe(0);
    expect(r.lines).toHaveLength(2502);
    const expires = r.lines.map((l) => Date.parse((JSON.parse(l) as { expires_at: string }).expires_at));
    expect(expires).toEqual([...expires].sort((a, b) => a - b));
  });

  it('rejects a bad window with exit 2', async () => {
    const r = await f.run(['plan', '--within', 'two days']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--within: must be a positive duration like "365d"');
  });
});
