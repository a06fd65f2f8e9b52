import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ago, createCliFixture, type CliFixture } from './support/fixture.js';

let f: CliFixture;

beforeAll(async () => {
  f = await createCliFixture('history');
});

afterAll(async () => {
  await f.close();
});

interface RunJson {
  id: string;
  trigger: string;
  status: string;
  status_label: string;
  degraded: boolean;
  dry_run: boolean;
  deleted: number | null;
  failed: number | null;
  would_delete: number | null;
  duration_seconds: number | null;
}

describe('lethe history', () => {
  it('says so when there are no runs yet', async () => {
    const human = await f.run(['history']);
    expect(human.code).toBe(0);
    expect(human.lines[0]).toMatch(/^No runs yet/);
    expect((await f.run(['history', '--json'])).json()).toEqual({ runs: [] });
  });

  it('rejects a bad -n with exit 2', async () => {
    for (const n of ['0', '1001']) {
      const r = await f.run(['history', '-n', n]);
      expect(r.code, n).toBe(2);
      expect(r.stderr).toMatch(/--number: expected an integer/);
    }
  });
});

describe('lethe runs show', () => {
  let runId: string;

  beforeAll(async () => {
    await f.insert([
      ['ok-1', 'a/ok-1.pdf', 'System Testing', ago('2 days')],
      ['ok-2', 'a/ok-2.pdf', 'General', ago('40 days')],
      ['dir', 'a/dir.pdf', 'System Testing', ago('2 days')],
      ['evil', '../outside.pdf', 'System Testing', ago('2 days')],
    ]);
    await f.touch('a/ok-1.pdf');
    await f.touch('a/ok-2.pdf');
    // A directory where a file should be: unlink fails (EISDIR/EPERM), the row is kept.
    await mkdir(join(f.root, 'a/dir.pdf'));
    const dry = await f.run(['run', '--dry-run', '--json']);
    expect(dry.code).toBe(0);
    const run = await f.run(['run', '--json']);
    expect(run.code).toBe(1);
    runId = run.json<{ run_id: string }>().run_id;
  });

  it('lists real runs newest first (dry runs with --all), with deleted, failed, duration, status', async () => {
    const runs = (await f.run(['history', '-n', '5', '--json'])).json<{ runs: RunJson[] }>().runs;
    expect(runs).toHaveLength(1);
    // 1 failed of 3 attempted: above the degraded share, so the run completed degraded.
    expect(runs[0]).toMatchObject({
      id: runId,
      trigger: 'manual',
      status: 'completed',
      status_label: 'completed (degraded)',
      degraded: true,
      dry_run: false,
      deleted: 2,
      failed: 1,
      would_delete: null,
    });
    expect(runs[0]!.duration_seconds).toBeGreaterThanOrEqual(0);
    const all = (await f.run(['history', '--all', '--json'])).json<{ runs: RunJson[] }>().runs;
    expect(all.map((r) => r.dry_run)).toEqual([false, true]);
    // A dry run deletes nothing but says what it would delete (ok-1, ok-2, dir; the unsafe key is refused).
    expect(all[1]).toMatchObject({ dry_run: true, status: 'completed', status_label: 'completed', deleted: 0, would_delete: 3 });

    const human = await f.run(['history']);
    expect(human.lines[0]).toMatch(/^time +trigger +deleted +failed +duration +status +run id$/);
    expect(human.lines[1]).toMatch(new RegExp(`^\\S+ \\S+Z +manual +2 +1 +\\S+ +completed \\(degraded\\) +${runId}$`));
    expect(human.lines).toHaveLength(2);
    // lethe status names the last run the same way.
    const status = await f.run(['status']);
    expect(status.stdout).toMatch(new RegExp(`Last run: +\\S+ \\S+ completed \\(degraded\\) \\(manual\\).*\\[${runId}\\]`));
    const withDry = await f.run(['history', '--all']);
    expect(withDry.lines[2]).toMatch(/^\S+ \S+Z +manual \(dry run\) +would 3 +0 +\S+ +completed +[0-9a-f-]{36}$/);
  });

  it('groups failures and refusals by code with sample keys', async () => {
    const r = await f.run(['runs', 'show', runId, '--json']);
    expect(r.code).toBe(0);
    const detail = r.json<{
      run: RunJson;
      summary: { deleted_count: number };
      failures_by_code: { outcome: string; code: string; count: number; sample_keys: string[] }[];
    }>();
    expect(detail.run).toMatchObject({ id: runId, status: 'completed', deleted: 2, failed: 1 });
    expect(detail.summary.deleted_count).toBe(2);
    const byOutcome = Object.fromEntries(detail.failures_by_code.map((g) => [g.outcome, g]));
    expect(byOutcome.failed).toMatchObject({ count: 1, sample_keys: ['a/dir.pdf'] });
    expect(['EISDIR', 'EPERM']).toContain(byOutcome.failed!.code);
    expect(byOutcome.refused).toMatchObject({ code: 'LETHE_E_KEY_OUTSIDE_ROOT', count: 1, sample_keys: ['../outside.pdf'] });

    const human = await f.run(['runs', 'show', runId]);
    expect(human.lines[0]).toMatch(new RegExp(`^Run ${runId}: completed \\(degraded\\), trigger manual, host \\S+$`));
    expect(human.lines).toContain('Failures by code:');
    expect(human.stdout).toMatch(/ {2}(EISDIR|EPERM) \(failed\): 1, e\.g\. "a\/dir\.pdf"/);
    expect(human.stdout).toContain('  LETHE_E_KEY_OUTSIDE_ROOT (refused): 1, e.g. "../outside.pdf"');
    expect(human.stdout).toMatch(/Deleted: 2, Failed: 1, Refused: 1/);
  });

  it('exits 2 on a malformed or unknown run id', async () => {
    const bad = await f.run(['runs', 'show', 'yesterday']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^lethe: .*run-id: expected a run id or a unique prefix of one \(at least 4 hex digits/m);
    const unknown = await f.run(['runs', 'show', '3f2b9c1e-0000-4000-8000-000000000000', '--json']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('run-id: no run with id 3f2b9c1e-0000-4000-8000-000000000000');
    expect(unknown.json()).toMatchObject({ error: { code: 'LETHE_E_CONFIG' } });
    const missing = await f.run(['runs', 'show']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing required argument 'run-id'");
  });
});
