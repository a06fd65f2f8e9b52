import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ago, createCliFixture, type CliFixture } from '../cli/support/fixture.js';

// After `lethe restore --from <backup>`, `lethe lookup` tells the restore from the backup apart
// from an undo-window restore (it is not "from the trash"), and says HELD: the restore held the key.
let f: CliFixture;
let backup: string;

beforeAll(async () => {
  f = await createCliFixture('ops_restore_lookup');
  backup = await mkdtemp(join(tmpdir(), 'lethe-backup-lookup-'));
  await f.insert([['rl-1', 'docs/r.pdf', 'General', ago('40 days')]]);
  await f.touch('docs/r.pdf');
  await mkdir(dirname(join(backup, 'docs/r.pdf')), { recursive: true });
  await writeFile(join(backup, 'docs/r.pdf'), 'x');
  expect((await f.run(['run', '--json'])).json()).toMatchObject({ deleted_count: 1 });
  expect((await f.run(['restore', 'docs/r.pdf', '--from', backup, '--by', 'oncall'])).code).toBe(0);
});
afterAll(async () => {
  await f.close();
  await rm(backup, { recursive: true, force: true });
});

describe('lethe lookup after a restore from backup', () => {
  it('names the backup, not the trash, and says HELD with the hold reason and who', async () => {
    const r = await f.run(['lookup', 'docs/r.pdf']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('docs/r.pdf: HELD');
    expect(r.stdout).toContain(`restored from backup ${backup} by oncall`);
    expect(r.stdout).not.toContain('from the trash');
    expect(r.stdout).toMatch(/hold \S+: "restored from backup .*" by oncall/);
  });
});
