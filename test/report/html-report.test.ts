import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliFixture, type CliFixture } from '../cli/support/fixture.js';
import { at, externalReferences, fieldsShown, pdfText, renderPage, shownAs, skipBrowserTests } from './browser.js';

/**
 * `lethe report --format html|pdf` for a closed month (docs/runbook.md#compliance-reporting): the
 * page a browser renders shows exactly the JSON report's numbers, the PDF's text too, and a closed
 * month's page does not change when later months do.
 */
let f: CliFixture;
let month: string;

interface ReportJson {
  status: string;
  generated_at: string;
  totals: { deleted: number; failed: number };
  by_purpose: { purpose: string }[];
  daily: { date: string; erased: number; failed: number }[];
  held: { files: number; holds: number };
  runs: { total: number; completed: number };
}

const RUN = '7b0c7a52-3f43-4a8e-9a55-0d3c1e2f0a01';

beforeAll(async () => {
  f = await createCliFixture('report_html');
  const m = await f.db.pool.query<{ m: string; start: string }>(
    `SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month', 'YYYY-MM') AS m,
            to_char(date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month', 'YYYY-MM-DD') AS start`,
  );
  month = m.rows[0]!.m;
  const start = `${m.rows[0]!.start}T00:00:00Z`;
  await f.db.pool.query(
    `INSERT INTO lethe_runs (id, trigger, status, started_at, ended_at) VALUES ($1, 'schedule', 'completed', $2::timestamptz + interval '2 days 2 hours', $2::timestamptz + interval '2 days 3 hours')`,
    [RUN, start],
  );
  // One run's ledger rows, on three days of the month: System Testing on time, one General file late (4 days after expiry).
  await f.db.pool.query(
    `INSERT INTO lethe_ledger (run_id, job_id, file_key, purpose_code, created_at, expires_at, erased_at, outcome, error_code, policy_version)
     SELECT $1, r.job, r.key, r.purpose, $2::timestamptz + r.expires - interval '1 day', $2::timestamptz + r.expires, $2::timestamptz + r.erased, r.outcome, r.code,
            (SELECT max(version) FROM lethe_policy_versions)
       FROM (VALUES ('st-1', 'st/1.pdf', 'System Testing', interval '1 day 20 hours', interval '2 days 2 hours', 'erased', NULL),
                    ('st-2', 'st/2.pdf', 'System Testing', interval '1 day 20 hours', interval '2 days 2 hours', 'erased', NULL),
                    ('st-3', 'st/3.pdf', 'System Testing', interval '1 day 21 hours', interval '2 days 2 hours', 'erased', NULL),
                    ('st-4', 'st/4.pdf', 'System Testing', interval '3 days', interval '4 days 2 hours', 'failed', 'EACCES'),
                    ('st-5', 'st/5.pdf', 'System Testing', interval '3 days', interval '4 days 2 hours', 'absent', NULL),
                    ('ge-1', 'ge/1.pdf', 'General', interval '8 days', interval '9 days 2 hours', 'erased', NULL),
                    ('ge-2', 'ge/2.pdf', 'General', interval '5 days', interval '9 days 2 hours', 'erased', NULL))
            AS r(job, key, purpose, expires, erased, outcome, code)`,
    [RUN, start],
  );
  // The legacy service's audit rows count in the totals (not in the ledger's per-day series).
  await f.db.pool.query(
    `INSERT INTO audit_logs ("timestamp", action, details) VALUES ($1::timestamptz + interval '6 days', 'cleanup_expired_jobs', '{"deleted_count": 10, "failed_count": 1}')`,
    [start],
  );
  // One hold active at the month's end; one released during the month.
  await f.db.pool.query(
    `INSERT INTO lethe_holds (file_key, reason, created_by, created_at, released_at, released_by) VALUES
       ('held/1.pdf', 'litigation', 'legal', $1::timestamptz + interval '1 day', NULL, NULL),
       ('held/2.pdf', 'audit', 'legal', $1::timestamptz + interval '1 day', $1::timestamptz + interval '3 days', 'legal')`,
    [start],
  );
});

afterAll(async () => {
  await f?.close();
});

async function reportJson(): Promise<ReportJson> {
  const r = await f.run(['report', '--month', month, '--json']);
  expect(r.code, r.stderr).toBe(1); // NON-COMPLIANT: ge/2.pdf was erased 4 days after it expired
  return r.json<ReportJson>();
}

async function htmlReport(name: string): Promise<string> {
  const out = join(f.root, name);
  const r = await f.run(['report', '--month', month, '--format', 'html', '--output', out]);
  expect([r.code, r.stdout, r.stderr]).toEqual([1, '', '']);
  return readFile(out, 'utf8');
}

describe('the report data behind the HTML page', () => {
  it('has the per-day series and the held files, and the text format says the same', async () => {
    const json = await reportJson();
    expect(json.totals).toMatchObject({ deleted: 16, failed: 2 });
    expect(json.held).toEqual({ files: 1, holds: 1 });
    const days = Number(month.slice(5)) === 2 ? [28, 29] : [30, 31];
    expect(days).toContain(json.daily.length);
    expect(json.daily.filter((d) => d.erased + d.failed > 0).map((d) => [d.date.slice(8), d.erased, d.failed])).toEqual([
      ['03', 3, 0],
      ['05', 0, 1],
      ['10', 2, 0],
    ]);
    const text = await f.run(['report', '--month', month]);
    expect(text.lines).toContain('Total Files Deleted: 16');
    expect(text.lines).toContainEqual(expect.stringMatching(/^Held Files: 1 \(1 active legal holds as of /));
  });

  it('is one self-contained file: no scripts, no external URLs in any src or href', async () => {
    const html = await htmlReport('plain.html');
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(externalReferences(html)).toEqual([]);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none';`);
    const stdout = await f.run(['report', '--month', month, '--format', 'html']);
    expect([stdout.code, stdout.stdout.startsWith('<!DOCTYPE html>'), stdout.stdout.endsWith('</html>\n')]).toEqual([1, true, true]);
  });

  it('pdf without a browser fails before connecting, naming what to install', async () => {
    const missing = await f.run(['report', '--month', month, '--format', 'pdf', '--output', join(f.root, 'x.pdf')], {
      PATH: '/nonexistent-bin',
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
    });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^lethe: LETHE_E_CONFIG: --format pdf: needs a headless Chromium .*apt-get install chromium.*LETHE_CHROMIUM/);
    const wrong = await f.run(['report', '--month', month, '--format', 'pdf'], { LETHE_CHROMIUM: '/nonexistent/chromium' });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('LETHE_CHROMIUM: expected the path of a Chromium or Chrome executable, got "/nonexistent/chromium"');
  });
});

describe.skipIf(skipBrowserTests)('the HTML report in headless Chromium', () => {
  it('shows the JSON report\'s numbers, and "not recorded" where the report has no such evidence', async () => {
    const json = await reportJson();
    const dom = await renderPage(await htmlReport('report.html'), 'report-html.png');
    const shown = fieldsShown(dom);
    for (const path of [
      'status',
      'totals.deleted',
      'totals.failed',
      'totals.refused',
      'totals.late_erasures',
      'runs.total',
      'runs.completed',
      'still_present.present',
      'still_present.late',
      'held.files',
      'held.holds',
      'erasure_requests.received',
      'erasure_requests.overdue',
      'reconciliation.runbook_deleted',
      'by_purpose.0.deleted',
      'by_purpose.1.failed',
      'by_purpose.2.deleted',
    ]) {
      expect(shown.has(path), `${path} is on the page`).toBe(true);
    }
    for (const [path, text] of shown) expect(text, path).toBe(shownAs(at(json, path)));
    expect(json.by_purpose.map((p) => p.purpose)).toEqual(['General', 'System Testing', '(legacy cleanup service)']);
    expect(shown.get('totals.deleted')).toBe('16');
    // The chart: two bars a day; its sums are the ledger's (the legacy rows are not per file).
    expect(dom.match(/<rect /g)?.length).toBe(2 * json.daily.length);
    const sum = (k: 'erased' | 'failed'): string => shownAs(json.daily.reduce((a, d) => a + d[k], 0));
    expect(dom).toContain(`<span data-sum="daily.erased">${sum('erased')}</span>`);
    expect(dom).toContain(`<span data-sum="daily.failed">${sum('failed')}</span>`);
    // The ledger chain is not recorded on this build (head and signature): said, not invented.
    expect(dom.match(/data-missing="true">not recorded</g)?.length).toBe(2);
    expect(externalReferences(dom)).toEqual([]);
  });

  it('prints to a PDF whose text has the same numbers', async () => {
    const json = await reportJson();
    const out = join(f.root, 'report.pdf');
    const r = await f.run(['report', '--month', month, '--format', 'pdf', '--output', out]);
    expect([r.code, r.stderr]).toEqual([1, '']);
    const pdf = await readFile(out);
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const lines = (await pdfText(out)).split('\n').map((l) => l.trim());
    expect(lines).toContain('Cleanup Service - Monthly Report');
    expect(lines).toContain(`Total Files Deleted: ${shownAs(json.totals.deleted)}`);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^Failed Deletions: ${json.totals.failed} \\(`)));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^Runs: ${json.runs.total} \\(${json.runs.completed} completed`)));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^Held Files: ${json.held.files} \\(${json.held.holds} active holds`)));
    expect(lines).toContainEqual(expect.stringContaining(json.status));
    expect(lines.filter((l) => l.includes('not recorded')).length).toBeGreaterThanOrEqual(2);
  });

  it('is reproducible for a closed month: later erasures and releases do not change its page', async () => {
    const before = await htmlReport('before.html');
    // This month: a System Testing file erased, the held file released.
    await f.db.pool.query(
      `INSERT INTO lethe_ledger (run_id, job_id, file_key, purpose_code, expires_at, erased_at, outcome) VALUES ($1, 'late-1', 'st/9.pdf', 'System Testing', now() - interval '3 days', now(), 'erased')`,
      [RUN],
    );
    await f.db.pool.query(`UPDATE lethe_holds SET released_at = now(), released_by = 'legal' WHERE file_key = 'held/1.pdf'`);
    const after = await htmlReport('after.html');
    const withoutTime = (html: string): string => html.replace(/Generated \S+ by/, 'Generated - by');
    expect(withoutTime(after)).toBe(withoutTime(before));
    expect(fieldsShown(await renderPage(after)).get('held.files')).toBe('1');
  });
});
