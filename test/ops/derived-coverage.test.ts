import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ago, createCliFixture, type CliFixture } from '../cli/support/fixture.js';

/**
 * Coverage of derived data (docs/rights.md#derived-data): `lethe doctor` fails on a table that
 * refers to jobs, or a storage prefix, that no declaration covers, and passes once it is declared
 * (or kept with a reason). Real Postgres, real files, the built CLI with a `-c` config file.
 */
let f: CliFixture;
let dir: string;

beforeAll(async () => {
  f = await createCliFixture('derived_cov');
  dir = await mkdtemp(join(tmpdir(), 'lethe-derived-cov-'));
  await f.insert([['a', 'docs/a.pdf', 'General', ago('1 day')]]);
  await f.touch('docs/a.pdf');
  await f.touch('docs/a.pdf.ocr.json');
  await f.db.pool.query(`CREATE TABLE ocr_pages (job_id text NOT NULL REFERENCES jobs (id), page int NOT NULL)`);
});
afterAll(async () => {
  await f.close();
  await rm(dir, { recursive: true, force: true });
});

interface Check {
  name: string;
  status: string;
  message: string;
  details: { tables: { table: string; status: string; found: string }[]; prefixes: { prefix: string; status: string; objects: number }[] };
}
async function coverage(derived: unknown): Promise<{ code: number; check: Check; stderr: string }> {
  const path = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(path, JSON.stringify({ derived }));
  const r = await f.run(['doctor', '--json', '-c', path]);
  const report = r.json<{ checks: Check[] }>();
  return { code: r.code, check: report.checks.find((c) => c.name === 'derived.coverage')!, stderr: r.stderr };
}

describe('derived data coverage (lethe doctor)', () => {
  it('fails on an undeclared child table and an unexplained prefix, and passes once both are declared', async () => {
    await f.touch('thumbs/a.png');
    const before = await coverage({ objects: [{ template: '{file_key}.ocr.json' }] });
    expect(before.code).toBe(1);
    expect(before.check.status).toBe('fail');
    expect(before.check.message).toMatch(/table public\.ocr_pages \(column job_id: foreign key\)/);
    expect(before.check.message).toMatch(/prefix thumbs\/ \(1 objects no template explains, e.g\. thumbs\/a\.png\)/);
    expect(before.check.details.tables).toEqual([{ table: 'public.ocr_pages', column: 'job_id', found: 'foreign_key', status: 'uncovered' }]);

    const after = await coverage({
      tables: [{ table: 'ocr_pages', column: 'job_id' }],
      objects: [{ template: '{file_key}.ocr.json' }, { template: 'thumbs/{id}.png' }],
    });
    expect(after.check.status, after.check.message).toBe('ok');
    expect(after.code).toBe(0);
    expect(after.check.details.tables).toEqual([{ table: 'public.ocr_pages', column: 'job_id', found: 'foreign_key', status: 'covered' }]);
  });

  it('finds a table by a column named like the jobs id or file key, and accepts it kept with a reason', async () => {
    await f.db.pool.query(`CREATE TABLE invoices (file_key text, amount int)`);
    const base = { tables: [{ table: 'ocr_pages', column: 'job_id' }], objects: [{ template: '{file_key}.ocr.json' }, { template: 'thumbs/{id}.png' }] };
    const found = await coverage(base);
    expect(found.check.status).toBe('fail');
    expect(found.check.details.tables).toContainEqual({ table: 'public.invoices', column: 'file_key', found: 'file_key_column', status: 'uncovered' });
    const kept = await coverage({ ...base, keep: [{ table: 'invoices', reason: 'tax law: 8 years' }] });
    expect(kept.check.status, kept.check.message).toBe('ok');
    expect(kept.check.details.tables).toContainEqual({
      table: 'public.invoices',
      column: 'file_key',
      found: 'file_key_column',
      status: 'kept',
      reason: 'tax law: 8 years',
    });
    await f.db.pool.query(`DROP TABLE invoices`);
  });

  it('rejects a bad declaration in the config file, naming the field', async () => {
    const path = join(dir, 'bad.json');
    await writeFile(path, JSON.stringify({ derived: { objects: [{ template: '/etc/{id}' }] } }));
    const r = await f.run(['doctor', '--json', '-c', path]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/derived\.objects\[0\]\.template: "\/etc\/\{id\}" is not a safe relative key/);
  });
});
