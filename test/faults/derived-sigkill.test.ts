import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli, waitFor, waitForExit } from '../support/cli.js';
import { expectConverged } from '../support/convergence.js';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';

/**
 * Derived data (docs/rights.md#derived-data) under SIGKILL: the CLI is killed at several points
 * of a run that deletes derived objects before each source file and child rows before each job
 * row; every rerun converges: no expired file, derived object or child row left, every live one
 * kept, and every expired job's derived objects with their evidence (erased, or absent when a
 * killed run had deleted them).
 */
const EXPIRED = 1200;
const LIVE = 120;
let db: TestDatabase;
let files: TempRoot;
let config: string;
const expiredKeys = Array.from({ length: EXPIRED }, (_, i) => `exp/${i % 12}/${i}.pdf`);
const liveKeys = Array.from({ length: LIVE }, (_, i) => `live/${i}.pdf`);
const ocr = (k: string): string => `${k}.ocr.json`;
const thumb = (id: string): string => `thumbs/${id}.png`;

beforeAll(async () => {
  db = await createTestDatabase('derived_kill');
  files = await createTempRoot('derived-kill');
  await createJobsTable(db.pool);
  await db.pool.query(`CREATE TABLE ocr_pages (job_id text NOT NULL REFERENCES jobs (id), page int NOT NULL)`);
  await db.pool.query(
    `INSERT INTO jobs (id, file_key, purpose_code, created_at)
     SELECT 'e' || i, k, 'System Testing', (now() AT TIME ZONE 'UTC') - interval '2 days' FROM unnest($1::text[]) WITH ORDINALITY AS t(k, i)
     UNION ALL
     SELECT 'l' || i, k, 'System Testing', (now() AT TIME ZONE 'UTC') - interval '1 hour' FROM unnest($2::text[]) WITH ORDINALITY AS t(k, i)`,
    [expiredKeys, liveKeys],
  );
  await db.pool.query(`INSERT INTO ocr_pages (job_id, page) SELECT id, p FROM jobs, generate_series(1, 2) AS p`);
  const ids = (await db.pool.query<{ id: string; file_key: string }>(`SELECT id, file_key FROM jobs`)).rows;
  for (const r of ids) for (const k of [r.file_key, ocr(r.file_key), thumb(r.id)]) await files.put(k);
  config = join(files.root, '..', `lethe-derived-kill-${process.pid}.json`);
  await writeFile(
    config,
    JSON.stringify({
      derived: { tables: [{ table: 'ocr_pages', column: 'job_id' }], objects: [{ template: '{file_key}.ocr.json' }, { template: 'thumbs/{id}.png' }] },
    }),
  );
});

afterAll(async () => {
  await db?.drop();
  await files?.remove();
  if (config) await rm(config, { force: true });
});

describe('derived data under SIGKILL', () => {
  it('converges after kills at several points, derived objects and child rows included', async () => {
    const env = { DATABASE_URL: db.url, LETHE_STORAGE: `file://${files.root}`, LETHE_BATCH_SIZE: '50', LETHE_DELETES_PER_SECOND: '3000', LETHE_THREADS: '1' };
    expect((await runCli(['migrate'], env)).code).toBe(0);
    for (const threshold of [60, 400, 800]) {
      const child = spawnCli(['run', '--json', '-c', config], env);
      const exit = waitForExit(child);
      await waitFor(
        async () => (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM lethe_ledger`)).rows[0]!.n >= threshold,
        30_000,
        `${threshold} ledger rows`,
      );
      child.kill('SIGKILL');
      expect((await exit).signal).toBe('SIGKILL');
    }
    const final = await runCli(['run', '--json', '-c', config], env);
    expect(final.code, final.stderr).toBe(0);
    expect(JSON.parse(final.stdout)).toMatchObject({ status: 'completed', failed_count: 0 });
    await expectConverged(db.pool, files, expiredKeys, liveKeys);
    const expiredIds = expiredKeys.map((_, i) => `e${i + 1}`);
    for (const [i, k] of expiredKeys.entries()) {
      expect(await files.exists(ocr(k)), ocr(k)).toBe(false);
      expect(await files.exists(thumb(expiredIds[i]!)), thumb(expiredIds[i]!)).toBe(false);
    }
    for (const [i, k] of liveKeys.entries()) {
      expect(await files.exists(ocr(k)), ocr(k)).toBe(true);
      expect(await files.exists(thumb(`l${i + 1}`))).toBe(true);
    }
    const pages = await db.pool.query<{ n: number; live: number }>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE job_id LIKE 'l%')::int AS live FROM ocr_pages`,
    );
    expect(pages.rows[0]).toEqual({ n: 2 * LIVE, live: 2 * LIVE });
    // Every expired job's two derived objects have evidence (erased, or absent after a kill), none missing.
    const evidence = await db.pool.query<{ n: number }>(
      `SELECT count(DISTINCT (job_id, object_key))::int AS n FROM lethe_ledger_derived WHERE kind = 'object' AND outcome IN ('erased', 'absent')`,
    );
    expect(evidence.rows[0]!.n).toBe(2 * EXPIRED);
    const erasedTwice = await db.pool.query(`SELECT object_key FROM lethe_ledger_derived WHERE outcome = 'erased' GROUP BY object_key HAVING count(*) > 1`);
    expect(erasedTwice.rows).toEqual([]);
  });
});
