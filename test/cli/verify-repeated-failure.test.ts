import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ago, createCliFixture, type CliFixture } from './support/fixture.js';

// An expired file that fails on every run (here: its directory is immutable, so unlink gets EPERM
// even as root) is not waiting for `lethe run`: verify says what failed and what to fix.
let f: CliFixture;
const locked = (): string => join(f.root, 'locked');

async function goodRows(tag: string): Promise<void> {
  const rows = Array.from({ length: 10 }, (_, i) => [`ok-${tag}-${i}`, `ok/${tag}-${i}.pdf`, 'System Testing', ago('3 days')] as const);
  await f.insert(rows);
  for (const r of rows) await f.touch(r[1]);
}

beforeAll(async () => {
  f = await createCliFixture('verify_failing');
  await f.insert([['stuck-1', 'locked/stuck.pdf', 'System Testing', ago('3 days')]]);
  await f.touch('locked/stuck.pdf');
  execFileSync('chattr', ['+i', locked()]);
  for (const tag of ['a', 'b']) {
    await goodRows(tag);
    const run = await f.run(['run', '--json']);
    expect(run.json()).toMatchObject({ failed_count: 1, deleted_count: 10 });
  }
});

afterAll(async () => {
  execFileSync('chattr', ['-i', locked()]);
  await f.close();
});

describe('lethe verify: files that fail on every run', () => {
  it('gives the last error and the fix for its code instead of "run lethe run"', async () => {
    const r = await f.run(['verify']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('locked/stuck.pdf');
    expect(r.stdout).toMatch(/failed in 2 runs, last .*EPERM.*; fix: permissions: .*chattr -i/);
    expect(r.stdout).toContain('1 file failed in 2 or more runs: fix the cause shown under each (a rerun alone will not erase them)');
    expect(r.stdout).not.toContain('Run `lethe run` (or `lethe run --backlog`)');
    const j = (await f.run(['verify', '--json'])).json<{ findings: { file_key: string; repeated_failure?: { runs: number; last_error_code: string } }[] }>();
    expect(j.findings).toMatchObject([{ file_key: 'locked/stuck.pdf', repeated_failure: { runs: 2, last_error_code: 'EPERM' } }]);
  });
});
