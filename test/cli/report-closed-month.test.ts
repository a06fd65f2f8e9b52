import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliFixture, type CliFixture } from './support/fixture.js';

/** A closed month (the last full one) judged as of its end; legacy audit rows; the runbook reconciliation. */
let f: CliFixture;
let lastMonth: string;
let lastMonthStart: string;

interface ReportJson {
  month: string; status: string; reasons: string[]; judged_as_of: string; period_end: string;
  totals: { deleted: number; failed: number };
  by_purpose: { purpose: string; deleted: number }[];
  legacy: { rows: number; deleted: number; failed: number };
  reconciliation: { runbook_deleted: number; runbook_failed: number; deleted_difference: number; unexplained: number };
  still_present: { present: number; late: number; late_erased_after_month_end: number };
}

beforeAll(async () => {
  f = await createCliFixture('report_closed');
  const m = await f.db.pool.query<{ m: string; start: string }>(
    `SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month', 'YYYY-MM') AS m,
            to_char(date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month', 'YYYY-MM-DD') AS start`,
  );
  lastMonth = m.rows[0]!.m;
  lastMonthStart = m.rows[0]!.start;
  // Expired (24 h retention) ten days before last month began, and nobody erased it during the month.
  await f.insert([['stale-1', 'c/stale-1.pdf', 'System Testing', `(date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month' - interval '11 days')`]]);
  await f.touch('c/stale-1.pdf');
  // The legacy service's rows for last month (no details.source), as the runbook's SQL counts them.
  await f.db.pool.query(
    `INSERT INTO audit_logs ("timestamp", action, details) VALUES
       ($1::timestamptz + interval '2 days 2 hours', 'cleanup_expired_jobs', '{"deleted_count": 500, "failed_count": 2}'),
       ($1::timestamptz + interval '3 days 2 hours', 'cleanup_expired_jobs', '{"deleted_count": 17, "failed_count": 0}')`,
    [`${lastMonthStart}T00:00:00Z`],
  );
});

afterAll(async () => {
  await f.close();
});

describe('lethe report on a closed month', () => {
  it('defaults to the last full month and counts the legacy rows, reconciled with the runbook query', async () => {
    const r = await f.run(['report', '--json']);
    const rep = r.json<ReportJson>();
    expect(rep.month).toBe(lastMonth);
    expect(rep.judged_as_of).toBe(rep.period_end);
    expect(rep.legacy).toEqual({ rows: 2, deleted: 517, failed: 2 });
    expect(rep.totals).toMatchObject({ deleted: 517, failed: 2 });
    expect(rep.by_purpose).toContainEqual(expect.objectContaining({ purpose: '(legacy cleanup service)', deleted: 517 }));
    expect(rep.reconciliation).toMatchObject({ runbook_deleted: 517, runbook_failed: 2, deleted_difference: 0, unexplained: 0 });
    const text = await f.run(['report']);
    expect(text.lines).toContain('Total Files Deleted: 517');
    expect(text.lines).toContain('- Legacy cleanup service: 517 (2 audit_logs rows not written by Lethe)');
    expect(text.lines).toContain(`Runbook query (audit_logs cleanup_expired_jobs, ${lastMonth}): 517 deleted, 2 failed: same numbers`);
  });

  it("keeps its verdict after a run in the next month erases the file that was late at its end", async () => {
    const before = (await f.run(['report', '--month', lastMonth, '--json'])).json<ReportJson>();
    expect(before).toMatchObject({ status: 'NON-COMPLIANT', still_present: { present: 1, late: 1, late_erased_after_month_end: 0 } });
    expect(before.reasons).toEqual(["1 expired file was still present at the month's end more than 2d after it expired"]);

    expect((await f.run(['run', '--json'])).code).toBe(0); // this month: erases c/stale-1.pdf
    const after = await f.run(['report', '--month', lastMonth, '--json']);
    expect(after.code).toBe(1);
    const rep = after.json<ReportJson>();
    expect(rep).toMatchObject({ status: 'NON-COMPLIANT', reasons: before.reasons, still_present: { present: 0, late: 1, late_erased_after_month_end: 1 } });
    // This month's run is not last month's: the totals did not move either.
    expect(rep.totals).toEqual(before.totals);
  });
});
