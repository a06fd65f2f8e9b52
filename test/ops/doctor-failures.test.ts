import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ago, createCliFixture, type CliFixture } from '../cli/support/fixture.js';

// Runbook FM-002: `lethe doctor` said "All checks passed" through hundreds of EPERM failures. It
// now reads the last 24 h of failed deletions whose rows remain, by code, and probes the
// directories they failed in.
let f: CliFixture;
const locked = (): string => join(f.root, 'locked');

interface Check {
  name: string;
  status: string;
  message: string;
  details?: {
    failures: {
      code: string;
      count: number;
      sample_key: string;
      fix: string;
      directory?: { exists: boolean; writable: boolean | null; immutable: boolean | null };
    }[];
  };
}

beforeAll(async () => {
  f = await createCliFixture('ops_doctor_failures');
  const rows = [['stuck-1', 'locked/a.pdf'], ['stuck-2', 'locked/b.pdf'], ...Array.from({ length: 10 }, (_, i) => [`ok-${i}`, `ok/${i}.pdf`])] as const;
  await f.insert(rows.map(([id, key]) => [id, key, 'System Testing', ago('3 days')] as const));
  for (const [, key] of rows) await f.touch(key);
  execFileSync('chattr', ['+i', locked()]);
});

afterAll(async () => {
  execFileSync('chattr', ['-i', locked()]);
  await f.close();
});

const failuresCheck = async (): Promise<{ code: number | null; check: Check; last: string }> => {
  const [json, human] = await Promise.all([f.run(['doctor', '--json']), f.run(['doctor'])]);
  const check = json.json<{ checks: Check[] }>().checks.find((c) => c.name === 'runs.failures')!;
  return { code: json.code, check, last: human.stdout.trim().split('\n').at(-1)! };
};

describe('lethe doctor: recent failures by code', () => {
  it('is ok with no failure, then fails naming EPERM, a sample key, the immutable directory and the fix', async () => {
    expect((await failuresCheck()).check).toMatchObject({ status: 'ok' });
    const run = await f.run(['run', '--json']);
    expect(run.json()).toMatchObject({ failed_count: 2, deleted_count: 10 });

    const { code, check, last } = await failuresCheck();
    expect(code).toBe(1);
    expect(check.status).toBe('fail');
    expect(check.message).toMatch(
      /^2 failed deletions in the last 24 hours whose rows are still there: EPERM x2 \(e\.g\. "locked\/[ab]\.pdf"; directory .*locked: NOT writable by this process, IMMUTABLE/,
    );
    expect(check.message).toContain('fix: permissions');
    expect(check.details!.failures).toMatchObject([{ code: 'EPERM', count: 2, directory: { exists: true, immutable: true } }]);
    expect(last).toMatch(/check(s)? FAILED/);
  });

  it('warns for EIO in a healthy directory with the disk fix, and ignores failures whose row is gone', async () => {
    execFileSync('chattr', ['-i', locked()]);
    try {
      await f.db.pool.query(`DELETE FROM jobs WHERE id IN ('stuck-1', 'stuck-2')`);
      await f.insert([['eio-1', 'ok/eio.pdf', 'System Testing', ago('3 days')]]);
      await f.db.pool.query(
        `INSERT INTO lethe_ledger (run_id, job_id, file_key, outcome, error_code, error) VALUES (gen_random_uuid(), 'eio-1', 'ok/eio.pdf', 'failed', 'EIO', 'EIO: i/o error, unlink')`,
      );
      const { code, check, last } = await failuresCheck();
      expect(code).toBe(0);
      expect(check.status).toBe('warn');
      expect(check.message).toContain('1 failed deletion in the last 24 hours');
      expect(check.message).toContain('EIO x1 (e.g. "ok/eio.pdf"; directory');
      expect(check.message).toContain('fix: disk');
      expect(check.message).not.toContain('EPERM');
      expect(last).toMatch(/^No check failed, but \d+ warnings? above needs? attention\.$/);
    } finally {
      execFileSync('chattr', ['+i', locked()]);
    }
  });
});
