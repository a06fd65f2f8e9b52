import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ago, createCliFixture, type CliFixture } from './support/fixture.js';

/**
 * The human run summary and status read as prose: no `EISDIR EISDIR: ...` stutter, `1 row` not
 * `1 rows`, purposes in the policy order (System Testing, General, Financial, Legal, Medical, then
 * others), counts with en-US thousands separators.
 */
let f: CliFixture;
const MANY = 1_203;

beforeAll(async () => {
  f = await createCliFixture('messages');
  // Inserted in reverse policy order, so an unsorted listing shows Financial first.
  await f.insert([
    ['fin-1', 'fin/1.pdf', 'Financial', ago('400 days')],
    ['gen-1', 'gen/1.pdf', 'General', ago('40 days')],
    ['mkt-1', 'mkt/1.pdf', 'Marketing', ago('40 days')],
    ['dir-1', 'st/a-directory', 'System Testing', ago('3 days')],
  ]);
  await f.db.pool.query(`INSERT INTO jobs (id, file_key, purpose_code, created_at)
    SELECT 'st-' || i, 'st/' || i || '.pdf', 'System Testing', (now() AT TIME ZONE 'UTC') - interval '3 days' FROM generate_series(1, ${MANY}) AS i`);
  for (const key of ['fin/1.pdf', 'gen/1.pdf', 'mkt/1.pdf']) await f.touch(key);
  for (let i = 1; i <= MANY; i++) await f.touch(`st/${i}.pdf`);
  await mkdir(join(f.root, 'st/a-directory'), { recursive: true });
});

afterAll(async () => {
  await f.close();
});

describe('human output', () => {
  it('status lists the backlog in policy order with separators', async () => {
    const r = await f.run(['status']);
    const backlog = r.lines.slice(r.lines.findIndex((l) => l.startsWith('Backlog:')));
    expect(backlog).toEqual([`Backlog:      1,206 expired rows (policy version 1)`, '  System Testing: 1,204', '  General: 1', '  Financial: 1']);
  });

  it('the run summary: policy order, thousands separators, singular, no repeated code', async () => {
    const r = await f.run(['run']);
    expect(r.code).toBe(1);
    expect(r.lines[1]).toBe('Deleted: 1,205, Failed: 1');
    const purposes = r.lines.filter((l) => /^ {2}\S[^:]*\(.*\): /.test(l));
    expect(purposes.map((l) => l.replace(/ \(.*$/, '').trim())).toEqual(['System Testing', 'General', 'Financial']);
    expect(purposes[0]).toMatch(/^ {2}System Testing \([^)]*\): 1,203 erased, 1 failed$/);
    expect(r.stdout).toContain('  failed: st/a-directory: EISDIR: not a deletable file (a directory is at this key)');
    expect(r.stdout).not.toMatch(/EISDIR EISDIR/);
    expect(r.stdout).toMatch(/ {2}not judged: 1 row with unknown purpose "Marketing"/);
  });

  it('runs show lists the purposes in policy order', async () => {
    const id = (await f.run(['history', '--json'])).json<{ runs: { id: string }[] }>().runs[0]!.id;
    const r = await f.run(['runs', 'show', id]);
    const purposes = r.lines.filter((l) => /^ {2}[A-Z][\w ]*: .* erased/.test(l)).map((l) => l.split(':')[0]!.trim());
    expect(purposes).toEqual(['System Testing', 'General', 'Financial']);
    expect(r.stdout).toMatch(/ {2}System Testing: 1,203 erased/);
  });
});
