import { describe, expect, it } from 'vitest';
import type { ComplianceReport } from './report.js';
import { reportHtml } from './report-html.js';
import { dailyChartSvg, escapeHtml } from './report-html-parts.js';

const report = (over: Partial<ComplianceReport> = {}): ComplianceReport => ({
  month: '2025-11',
  period_start: '2025-11-01T00:00:00.000Z',
  period_end: '2025-12-01T00:00:00.000Z',
  generated_at: '2025-12-02T10:00:00.000Z',
  month_complete: true,
  schedule_period_seconds: 86_400,
  grace_seconds: 86_400,
  allowed_lateness_seconds: 172_800,
  totals: {
    deleted: 1234,
    erased: 1200,
    trashed: 0,
    absent: 34,
    failed: 3,
    failed_files: 2,
    refused: 1,
    worst_lateness_seconds: 3600,
    late_erasures: 0,
    failure_rate: 3 / 1237,
  },
  by_purpose: [
    {
      purpose: 'Legal <"old">',
      retentions: ['7 years'],
      deleted: 1234,
      erased: 1200,
      trashed: 0,
      absent: 34,
      failed: 3,
      failed_files: 2,
      refused: 1,
      worst_lateness_seconds: 3600,
      late_erasures: 0,
    },
  ],
  worst_lateness: {
    seconds: 3600,
    file_key: 'a/<script>.pdf',
    purpose: 'Legal <"old">',
    run_id: 'r',
    expires_at: '2025-11-02T01:00:00Z',
    erased_at: '2025-11-02T02:00:00Z',
  },
  legacy: { rows: 0, deleted: 0, failed: 0 },
  reconciliation: { runbook_deleted: 1234, runbook_failed: 3, deleted_difference: 0, failed_difference: 0, trashed_not_purged: 0, purged: 0, unexplained: 0 },
  judged_as_of: '2025-12-01T00:00:00.000Z',
  runs: { total: 30, completed: 30, failed: 0, interrupted: 0, paused: 0 },
  reconciled: { orphan_files: 0, orphan_rows: 0 },
  after_erasure: { purged: 0, restored: 0, reerased: 0 },
  still_present: { checked: 0, present: 0, late: 0, late_erased_after_month_end: 0, unverifiable: 0, worst_overdue_seconds: null, by_purpose: {}, samples: [] },
  unreadable: [],
  daily: [
    { date: '2025-11-01', erased: 1200, failed: 3 },
    { date: '2025-11-02', erased: 0, failed: 0 },
  ],
  held: { files: 2, holds: 3 },
  erasure_requests: {
    received: 0,
    completed: 0,
    completed_late: 0,
    rows_erased: 0,
    rows_unlinked: 0,
    refused: [],
    held_rows: 0,
    overdue: 0,
    overdue_references: [],
    as_of: '2025-12-01T00:00:00.000Z',
  },
  status: 'COMPLIANT',
  reasons: [],
  notes: [],
  ...over,
});

describe('reportHtml', () => {
  it('fills in the runbook template, counts with separators', () => {
    const html = reportHtml(report());
    expect(html).toContain('<p>Total Files Deleted: <span data-field="totals.deleted">1,234</span></p>');
    expect(html).toContain('Period: November 2025 (2025-11-01 to 2025-11-30, UTC)');
    expect(html).toContain('<span data-field="held.files">2</span>');
  });

  it('escapes every text from the data (purposes, file keys)', () => {
    const html = reportHtml(report());
    expect(html).not.toContain('<script');
    expect(html).toContain('a/&lt;script&gt;.pdf');
    expect(html).toContain('Legal &lt;&quot;old&quot;&gt;');
  });

  it('says "not recorded" for requests and the chain unless the report carries them, and never invents a figure', () => {
    const { erasure_requests: _q, ...noRequests } = report();
    expect(reportHtml(noRequests).match(/not recorded/g)).toHaveLength(3);
    const requests = {
      received: 7,
      completed: 5,
      completed_late: 1,
      rows_erased: 40,
      rows_unlinked: 1,
      refused: [{ purpose: 'Financial', statute: 'Income-tax Act s.44AA', rows: 2 }],
      held_rows: 0,
      overdue: 1,
      overdue_references: ['DPO-9'],
      as_of: '2025-12-01T00:00:00.000Z',
    };
    const html = reportHtml({ ...report(), erasure_requests: requests, chain: { head: 'ab12', signature: 'sig==' } });
    expect(html).not.toContain('not recorded');
    expect(html).toContain('<span data-field="erasure_requests.overdue">1</span>');
    expect(html).toContain('<span data-field="erasure_requests.refused.0.rows">2</span>');
    expect(html).toContain('<span data-field="chain.head">ab12</span>');
  });

  it('reads a report stored before the per-day series and holds existed', () => {
    const { daily: _d, held: _h, erasure_requests: _q, ...old } = report();
    expect(reportHtml(old).match(/not recorded/g)).toHaveLength(5);
  });
});

describe('dailyChartSvg', () => {
  it('draws two bars a day, scaled to the largest, with a tooltip each', () => {
    const svg = dailyChartSvg([
      { date: '2025-11-01', erased: 10, failed: 5 },
      { date: '2025-11-02', erased: 0, failed: 0 },
    ]);
    expect(svg.match(/<rect /g)).toHaveLength(4);
    expect(svg).toContain('<title>2025-11-01: 10 erased</title>');
    expect(svg).toContain('<title>2025-11-01: 5 failed</title>');
    expect(svg).not.toMatch(/NaN|Infinity/);
    expect(dailyChartSvg([])).not.toMatch(/NaN|Infinity/);
  });

  it('escapes', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
