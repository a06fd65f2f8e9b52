import { describe, expect, it } from 'vitest';
import type { ComplianceReport } from '@lethe/engine/operations';
import { reportCsv, reportText } from './report.js';

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
    refused: 0,
    worst_lateness_seconds: 3600,
    late_erasures: 0,
    failure_rate: 3 / 1237,
  },
  by_purpose: [
    {
      purpose: 'System Testing',
      retentions: ['24 hours'],
      deleted: 987,
      erased: 980,
      trashed: 0,
      absent: 7,
      failed: 3,
      failed_files: 2,
      refused: 0,
      worst_lateness_seconds: 3600,
      late_erasures: 0,
    },
    {
      purpose: 'Legal, "old"',
      retentions: ['7 years'],
      deleted: 247,
      erased: 220,
      trashed: 0,
      absent: 27,
      failed: 0,
      failed_files: 0,
      refused: 0,
      worst_lateness_seconds: 60,
      late_erasures: 0,
    },
  ],
  worst_lateness: {
    seconds: 3600,
    file_key: 'a.pdf',
    purpose: 'System Testing',
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
  daily: [],
  held: { files: 0, holds: 0 },
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

describe('reportText', () => {
  it('fills in the runbook template', () => {
    const lines = reportText(report());
    expect(lines.slice(0, 7)).toEqual([
      'Cleanup Service - Monthly Report',
      'Period: November 2025 (2025-11-01 to 2025-11-30, UTC)',
      '',
      'Total Files Deleted: 1,234',
      '- System Testing: 987 (24 hours retention)',
      '- Legal, "old": 247 (7 years retention)',
      '',
    ]);
    expect(lines).toContain('Failed Deletions: 3 (0.2% failure rate)');
    expect(lines).toContain('Compliance Status: ✅ COMPLIANT');
  });

  it('reconciles with the runbook query: same numbers, or the difference explained', () => {
    expect(reportText(report())).toContain('Runbook query (audit_logs cleanup_expired_jobs, 2025-11): 1,234 deleted, 3 failed: same numbers');
    const trash = report({
      reconciliation: {
        runbook_deleted: 1250,
        runbook_failed: 3,
        deleted_difference: 16,
        failed_difference: 0,
        trashed_not_purged: 20,
        purged: 5,
        unexplained: 1,
      },
    });
    expect(reportText(trash)).toContain(
      'Runbook query (audit_logs cleanup_expired_jobs, 2025-11): 1,250 deleted, 3 failed: +16 deleted vs this report ' +
        '(20 files moved to the undo trash (the runbook counts them when trashed, this report once purged); 5 trash copies purged this month (counted here, by the runbook when trashed); ' +
        "1 from runs across the month's boundary or missing audit rows)",
    );
  });

  it('lists the reasons when NON-COMPLIANT', () => {
    const lines = reportText(report({ status: 'NON-COMPLIANT', reasons: ['1 file was erased more than 2d after it expired'] }));
    expect(lines).toContain('Compliance Status: ❌ NON-COMPLIANT');
    expect(lines).toContain('- 1 file was erased more than 2d after it expired');
  });
});

describe('reportCsv', () => {
  it('one row per purpose, quoted where needed, and a TOTAL row with the status', () => {
    const lines = reportCsv(report());
    expect(lines).toHaveLength(4);
    expect(lines[2]).toBe('2025-11,"Legal, ""old""",7 years,247,220,0,27,0,0,0,0.0000,60,0,0,0,');
    expect(lines[3]).toBe('2025-11,TOTAL,,1234,1200,0,34,3,2,0,0.0024,3600,0,0,0,COMPLIANT');
  });
});
