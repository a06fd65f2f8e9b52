import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ago, createCliFixture, type CliFixture } from '../cli/support/fixture.js';

/**
 * Operations (runbook FM-003 "notify users if many affected"): `lethe erasures` streams the ledger's
 * erasures by run, policy version or date, as JSON lines or CSV, on real Postgres and files.
 */
let f: CliFixture;
let run1: string;
let run2: string;
const ODD = 'e/a,"b".pdf';

beforeAll(async () => {
  f = await createCliFixture('ops_erasures');
  const first: [string, string, string, string][] = [
    ['st-1', 'e/st-1.pdf', 'System Testing', ago('2 days')],
    ['st-2', 'e/st-2.pdf', 'System Testing', ago('3 days')],
    ['st-3', 'e/st-3.pdf', 'System Testing', ago('4 days')],
    ['gen-1', 'e/gen-1.pdf', 'General', ago('40 days')],
    ['gen-2', 'e/gen-2.pdf', 'General', ago('41 days')],
  ];
  await f.insert(first);
  for (const r of first) await f.touch(r[1]);
  const r1 = await f.run(['run', '--json']);
  expect(r1.code).toBe(0);
  run1 = r1.json<{ run_id: string }>().run_id;
  // Every run carries its version, in the summary and in its audit row (runbook EMERGENCY-003).
  const version = (JSON.parse(readFileSync(new URL('../../packages/cli/package.json', import.meta.url), 'utf8')) as { version: string }).version;
  expect(r1.json()).toMatchObject({ version });
  expect((await f.db.pool.query(`SELECT details->>'version' AS v FROM audit_logs WHERE action = 'cleanup_expired_jobs'`)).rows).toEqual([{ v: version }]);
  expect((await f.run(['policies', 'set', 'General', '10d', '--confirm', '--reason', 'legal review'])).code).toBe(0);
  await f.insert([
    ['g20-1', 'e/g20-1.pdf', 'General', ago('20 days')],
    ['g20-2', ODD, 'General', ago('21 days')],
    ['g20-3', 'e/gone.pdf', 'General', ago('22 days')],
  ]);
  await f.touch('e/g20-1.pdf');
  await f.touch(ODD);
  const r2 = await f.run(['run', '--json'], { LETHE_BATCH_SIZE: '2' });
  expect(r2.json()).toMatchObject({ deleted_count: 3, erased_count: 2, absent_count: 1, policy_version: 2 });
  run2 = r2.json<{ run_id: string }>().run_id;
});
afterAll(async () => {
  await f.close();
});

const jsonl = (stdout: string): Record<string, any>[] =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, any>);

describe('lethe erasures', () => {
  it('lists a run as JSON lines (oldest first), with the fields a notification job needs', async () => {
    const [byRun, all] = await Promise.all([f.run(['erasures', '--run', run1]), f.run(['erasures', '--include-row'], { LETHE_BATCH_SIZE: '2' })]);
    expect(byRun.code).toBe(0);
    const lines = jsonl(byRun.stdout);
    expect(lines.map((l) => l.job_id).sort()).toEqual(['gen-1', 'gen-2', 'st-1', 'st-2', 'st-3']);
    expect(lines[0]).toEqual({
      file_key: expect.any(String),
      job_id: expect.any(String),
      purpose: expect.any(String),
      outcome: 'erased',
      erased_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
      run_id: run1,
      policy_version: 1,
      created_at: expect.stringMatching(/Z$/),
      expires_at: expect.stringMatching(/Z$/),
    });
    expect(byRun.stderr).toBe('lethe: 5 erasures listed\n');
    // Streamed in batches of 2, in ledger order, the removed rows included on request.
    const every = jsonl(all.stdout);
    expect(every).toHaveLength(8);
    expect(every.map((l) => l.run_id)).toEqual([...Array(5).fill(run1), ...Array(3).fill(run2)]);
    expect(every.find((l) => l.job_id === 'g20-3')).toMatchObject({
      outcome: 'absent',
      file_key: 'e/gone.pdf',
      job_row: { id: 'g20-3', purpose_code: 'General' },
    });
  });

  it('filters by policy version as CSV (quoted as RFC 4180 says), and by date', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const [csv, since, future] = await Promise.all([
      f.run(['erasures', '--policy-version', '2', '--format', 'csv']),
      f.run(['erasures', '--since', today, '--format', 'jsonl']),
      f.run(['erasures', '--since', '2999-01-01T00:00:00Z']),
    ]);
    expect(csv.code).toBe(0);
    expect(csv.lines[0]).toBe('file_key,job_id,purpose,outcome,erased_at,run_id,policy_version,created_at,expires_at');
    expect(csv.lines).toHaveLength(4);
    expect(csv.stdout).toContain(`"e/a,""b"".pdf",g20-2,General,erased,`);
    expect(csv.lines.every((l, i) => i === 0 || l.includes(`,${run2},2,`))).toBe(true);
    expect(jsonl(since.stdout)).toHaveLength(8);
    expect(future.stdout).toBe('');
    expect(future.stderr).toBe('lethe: 0 erasures listed\n');
  });

  it('rejects bad filters with exit 2 and a one-line error naming the flag', async () => {
    const results = await Promise.all([
      f.run(['erasures', '--run', 'last-tuesday']),
      f.run(['erasures', '--policy-version', '0']),
      f.run(['erasures', '--since', 'yesterday']),
      f.run(['erasures', '--format', 'xml']),
    ]);
    expect(results.map((r) => r.code)).toEqual([2, 2, 2, 2]);
    expect(results.map((r) => r.stderr.trim().split('\n').length)).toEqual([1, 1, 1, 1]);
    expect(results[0]!.stderr).toContain('--run: expected a run id like');
    expect(results[1]!.stderr).toContain('--policy-version: expected a positive integer');
    expect(results[2]!.stderr).toContain('--since: expected a date like 2025-11-30');
    expect(results[3]!.stderr).toContain('--format: expected "jsonl" or "csv"');
  });
});
