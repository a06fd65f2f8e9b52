import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ago, createCliFixture, type CliFixture } from './support/fixture.js';

let f: CliFixture;
let month: string;

beforeAll(async () => {
  f = await createCliFixture('report');
  month = (await f.db.pool.query<{ m: string }>(`SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM') AS m`)).rows[0]!.m;
  // Expired an hour ago or so: erased well within one period + grace.
  await f.insert([
    ['st-1', 'm/st-1.pdf', 'System Testing', ago('25 hours')],
    ['gen-1', 'm/gen-1.pdf', 'General', ago('30 days 2 hours')],
    ['gen-2', 'm/gen-2.pdf', 'General', ago('30 days 3 hours')],
    ['dir-1', 'm/dir.pdf', 'System Testing', ago('25 hours')],
  ]);
  for (const k of ['m/st-1.pdf', 'm/gen-1.pdf', 'm/gen-2.pdf']) await f.touch(k);
  await mkdir(join(f.root, 'm/dir.pdf'));
  expect((await f.run(['run', '--json'])).code).toBe(1); // the directory fails: a failed deletion
  // A month in the past, from the ledger: one erasure 5 days after expiry (late), one on time.
  await f.db.pool.query(`INSERT INTO lethe_ledger (run_id, job_id, file_key, purpose_code, created_at, expires_at, erased_at, outcome, policy_version) VALUES
    ('00000000-0000-4000-8000-000000000001', 'old-1', 'old/late.pdf', 'Financial', '2024-10-05', '2025-10-05', '2025-10-10 02:00', 'erased', 1),
    ('00000000-0000-4000-8000-000000000001', 'old-2', 'old/ok.pdf', 'General', '2025-09-09', '2025-10-09', '2025-10-10 02:00', 'erased', 1)`);
});

afterAll(async () => {
  await f.close();
});

interface ReportJson {
  month: string;
  status: string;
  reasons: string[];
  totals: { deleted: number; erased: number; failed: number; failure_rate: number; late_erasures: number; worst_lateness_seconds: number | null };
  by_purpose: { purpose: string; deleted: number; retentions: string[] }[];
  worst_lateness: { seconds: number; file_key: string } | null;
  runs: { total: number; completed: number };
  still_present: { present: number; late: number };
  allowed_lateness_seconds: number;
}

describe('lethe report', () => {
  it('fills in the runbook template: totals by purpose, failures and rate, COMPLIANT when nothing is late', async () => {
    const r = await f.run(['report', '--month', month, '--json']);
    expect(r.code).toBe(0);
    const rep = r.json<ReportJson>();
    expect(rep).toMatchObject({
      month,
      status: 'COMPLIANT',
      reasons: [],
      runs: { total: 1, completed: 1 },
      still_present: { present: 0, late: 0 },
      allowed_lateness_seconds: 2 * 86_400,
    });
    expect(rep.totals).toMatchObject({ deleted: 3, erased: 3, failed: 1, late_erasures: 0 });
    expect(rep.totals.failure_rate).toBeCloseTo(0.25);
    expect(rep.by_purpose).toMatchObject([
      { purpose: 'General', deleted: 2, retentions: ['30 days'] },
      { purpose: 'System Testing', deleted: 1, retentions: ['24 hours'] },
    ]);

    const text = await f.run(['report', '--month', month]);
    expect(text.code).toBe(0);
    expect(text.lines[0]).toBe('Cleanup Service - Monthly Report');
    expect(text.lines[1]).toMatch(new RegExp(`^Period: \\w+ ${month.slice(0, 4)} \\(${month}-01 to ${month}-\\d\\d, UTC\\)`));
    expect(text.lines).toContain('Total Files Deleted: 3');
    expect(text.lines).toContain('- General: 2 (30 days retention)');
    expect(text.lines).toContain('- System Testing: 1 (24 hours retention)');
    expect(text.lines).toContain('Failed Deletions: 1 (25.0% failure rate)');
    expect(text.lines).toContain('Compliance Status: ✅ COMPLIANT');
    expect(text.stdout).toContain('All files deleted within retention periods');
  });

  it('a past month with a late erasure is NON-COMPLIANT (exit 1) and names the worst lateness', async () => {
    const r = await f.run(['report', '--month', '2025-10', '--json']);
    expect(r.code).toBe(1);
    const rep = r.json<ReportJson>();
    expect(rep).toMatchObject({
      status: 'NON-COMPLIANT',
      totals: { deleted: 2, late_erasures: 1 },
      worst_lateness: { file_key: 'old/late.pdf' },
      runs: { total: 0 },
    });
    expect(rep.worst_lateness!.seconds).toBe(5 * 86_400 + 2 * 3600);
    expect(rep.reasons).toEqual(['1 file was erased more than 2d after it expired']);
    const text = await f.run(['report', '--month', '2025-10']);
    expect(text.lines).toContain('Compliance Status: ❌ NON-COMPLIANT');
    expect(text.stdout).toMatch(/Worst Lateness: 5d 2h after expiry \(old\/late\.pdf, Financial/);
  });

  it('an expired file still present past period + grace makes the month NON-COMPLIANT; csv has a TOTAL row', async () => {
    await f.insert([['late-present', 'm/late.pdf', 'System Testing', ago('4 days')]]);
    await f.touch('m/late.pdf');
    const rep = (await f.run(['report', '--month', month, '--json'])).json<ReportJson>();
    expect(rep).toMatchObject({ status: 'NON-COMPLIANT', still_present: { present: 1, late: 1 } });
    expect(rep.reasons).toEqual(['1 expired file is still present more than 2d after it expired']);
    const csv = await f.run(['report', '--month', month, '--format', 'csv']);
    expect(csv.code).toBe(1);
    expect(csv.lines[0]).toBe(
      'month,purpose,retention,deleted,erased,trashed,already_absent,failed,failed_files,refused,failure_rate,worst_lateness_seconds,late_erasures,still_present,still_present_late,status',
    );
    expect(csv.lines).toContainEqual(expect.stringMatching(new RegExp(`^${month},General,30 days,2,2,0,0,0,0,0,0\\.0000,\\d+,0,0,0,$`)));
    expect(csv.lines).toContainEqual(expect.stringMatching(new RegExp(`^${month},System Testing,24 hours,1,1,0,0,1,1,0,0\\.5000,\\d+,0,1,1,$`)));
    expect(csv.lines.at(-1)).toMatch(new RegExp(`^${month},TOTAL,,3,3,0,0,1,1,0,0\\.2500,\\d+,0,1,1,NON-COMPLIANT$`));
  });

  it('rejects a malformed or future month and a bad format with exit 2', async () => {
    for (const bad of ['2025-13', 'November']) {
      const r = await f.run(['report', '--month', bad]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toContain(`--month: expected a month like "2025-11" (YYYY-MM), got "${bad}"`);
    }
    const future = await f.run(['report', '--month', '2999-01']);
    expect(future.code).toBe(2);
    expect(future.stderr).toContain('month: 2999-01 has not started yet');
    // No --month is not an error: it reports the last full month (test/cli/report-closed-month.test.ts).
    const format = await f.run(['report', '--month', month, '--format', 'docx']);
    expect(format.code).toBe(2);
    expect(format.stderr).toContain("argument 'docx' is invalid");
  });
});
