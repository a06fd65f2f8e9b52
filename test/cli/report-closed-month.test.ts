import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliFixture, type CliFixture } from './support/fixture.js';

/** A closed month (the last full one) judged as of its end; legacy audit rows; the runbook reconciliation. */
let f: CliFixture;
let lastMonth: string;
let lastMonthStart: string;

interface ReportJson {
  month: string;
  status: string;
  reasons: string[];
  judged_as_of: string;
  period_end: string;
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

  it('prints the stored snapshot after a run in the next month erases the file that was late at its end; --regenerate shows the change', async () => {
    const before = await f.run(['report', '--month', lastMonth, '--json']);
    const b = before.json<ReportJson & { snapshot: Snapshot }>();
    expect(b).toMatchObject({ status: 'NON-COMPLIANT', still_present: { present: 1, late: 1, late_erased_after_month_end: 0 } });
    expect(b.reasons).toEqual(["1 expired file was still present at the month's end more than 2d after it expired"]);
    // The first test's report stored the snapshot: this one is read back, byte for byte the same report.
    expect(b.snapshot).toMatchObject({ source: 'stored', intact: true, matches: null });
    const stored = await f.db.pool.query<{ sha256: string; n: string }>(`SELECT sha256, count(*) OVER () AS n FROM lethe_monthly_reports WHERE month = $1`, [
      lastMonth,
    ]);
    expect(stored.rows).toHaveLength(1);
    expect(b.snapshot.sha256).toBe(stored.rows[0]!.sha256);
    const { snapshot: _s, ...report } = b;
    expect(createHash('sha256').update(canonical(report)).digest('hex')).toBe(b.snapshot.sha256);

    expect((await f.run(['run', '--json'])).code).toBe(0); // this month: erases c/stale-1.pdf
    const after = await f.run(['report', '--month', lastMonth, '--json']);
    expect(after.code).toBe(1);
    const a = after.json<ReportJson & { snapshot: Snapshot }>();
    expect(a).toEqual(b); // the snapshot, not the database now
    const text = await f.run(['report', '--month', lastMonth]);
    expect(text.lines).toContain(
      `Snapshot: this is the stored report for ${lastMonth}, generated at ${b.snapshot.generated_at} (sha256 ${b.snapshot.sha256}); --regenerate compares it with the database now`,
    );

    const again = await f.run(['report', '--month', lastMonth, '--json', '--regenerate']);
    expect(again.code).toBe(1);
    const rep = again.json<ReportJson & { snapshot: Snapshot }>();
    // Regenerated from what was known at the month's end: the same verdict and totals, the late file now counted as erased late.
    expect(rep).toMatchObject({ status: 'NON-COMPLIANT', reasons: b.reasons, still_present: { present: 0, late: 1, late_erased_after_month_end: 1 } });
    expect(rep.totals).toEqual(b.totals);
    expect(rep.snapshot).toMatchObject({ source: 'regenerated', matches: false, sha256: b.snapshot.sha256 });
    expect(rep.snapshot.differences).toContain('still_present');
    expect(rep.snapshot.differences).not.toContain('totals');
    const regenText = await f.run(['report', '--month', lastMonth, '--regenerate']);
    expect(regenText.stdout).toMatch(/^Regenerated: MISMATCH with the snapshot generated at .*; fields that differ: .*still_present/m);
    // --regenerate keeps the snapshot.
    expect((await f.run(['report', '--month', lastMonth, '--json'])).json<ReportJson & { snapshot: Snapshot }>()).toEqual(b);
  });

  it('stores one snapshot per grace, and says so when a stored one was altered', async () => {
    const first = await f.run(['report', '--month', lastMonth, '--grace', '0', '--json']);
    expect(first.json<{ snapshot: Snapshot }>().snapshot).toMatchObject({ source: 'created', intact: true });
    const regen = await f.run(['report', '--month', lastMonth, '--grace', '0', '--json', '--regenerate']);
    expect(regen.json<{ snapshot: Snapshot }>().snapshot).toMatchObject({ source: 'regenerated', matches: true, differences: [] });
    expect((await f.run(['report', '--month', lastMonth, '--grace', '0'])).stdout).toMatch(/^Snapshot: this is the stored report/m);
    await f.db.pool.query(`UPDATE lethe_monthly_reports SET report = jsonb_set(report, '{status}', '"COMPLIANT"') WHERE month = $1 AND grace_seconds = 0`, [
      lastMonth,
    ]);
    const altered = await f.run(['report', '--month', lastMonth, '--grace', '0', '--json']);
    expect(altered.code).toBe(1);
    expect(altered.json<{ snapshot: Snapshot }>().snapshot).toMatchObject({ source: 'stored', intact: false });
    expect(altered.stderr).toContain(`lethe: warning: the stored snapshot of ${lastMonth} no longer hashes to its sha256`);
  });

  it('does not store a report for the month still running', async () => {
    const m = await f.db.pool.query<{ m: string }>(`SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM') AS m`);
    const current = m.rows[0]!.m;
    const r = await f.run(['report', '--month', current, '--json']);
    expect(r.json<{ snapshot: Snapshot }>().snapshot).toMatchObject({ source: 'live', sha256: null });
    const n = await f.db.pool.query(`SELECT 1 FROM lethe_monthly_reports WHERE month = $1`, [current]);
    expect(n.rowCount).toBe(0);
  });
});

interface Snapshot {
  source: string;
  intact: boolean | null;
  generated_at: string | null;
  sha256: string | null;
  matches: boolean | null;
  differences: string[];
}

/** The canonical JSON the snapshot's sha256 is taken over: keys sorted at every level. */
function canonical(value: unknown): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
          )
        : v;
  return JSON.stringify(sort(value));
}
