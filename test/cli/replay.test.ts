import { execFileSync } from 'node:child_process';
import { cp, mkdtemp, mkdir, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { runCli } from '../support/cli.js';
import { createTempRoot, type TempRoot } from '../support/files.js';

/**
 * `lethe replay` end to end (docs/safety.md#erasures-survive-a-backup-restore), with the journal in a directory of its own
 * (LETHE_JOURNAL=dir:...): a run erases, the database is restored from a dump taken before it,
 * `lethe replay --dry-run --json` counts without deleting, `lethe replay` re-erases and says so,
 * `--since` after the erasures redoes nothing, and bad settings are usage errors (exit 2).
 */
let db: TestDatabase;
let files: TempRoot;
let work: string;
let env: Record<string, string>;
const KEYS = ['t/0.pdf', 't/1.pdf', 't/2.pdf'];

beforeAll(async () => {
  db = await createTestDatabase('cli_replay');
  files = await createTempRoot('cli-replay');
  work = await mkdtemp(join(tmpdir(), 'lethe-cli-replay-'));
  await mkdir(join(work, 'journal'));
  await createJobsTable(db.pool);
  await db.pool.query(
    `INSERT INTO jobs (id, file_key, purpose_code, created_at) SELECT 'j' || (i - 1), k, 'System Testing', (now() AT TIME ZONE 'UTC') - interval '2 days'
       FROM unnest($1::text[]) WITH ORDINALITY AS t(k, i)`,
    [KEYS],
  );
  for (const k of KEYS) await files.put(k);
  env = { DATABASE_URL: db.url, LETHE_STORAGE: `file://${files.root}`, LETHE_THREADS: '0', LETHE_JOURNAL: `dir:${join(work, 'journal')}` };
  expect((await runCli(['migrate'], env)).code).toBe(0);
});

afterAll(async () => {
  await db.drop();
  await files.remove();
  await rm(work, { recursive: true, force: true });
});

describe('lethe replay', () => {
  it('re-erases after a restore; --dry-run counts; --since after the erasures redoes nothing', async () => {
    const dump = join(work, 'before.dump');
    execFileSync('pg_dump', ['-Fc', '-f', dump, db.url]);
    await cp(files.root, join(work, 'files'), { recursive: true });
    const run = await runCli(['run', '--json'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ deleted_count: 3 });
    expect(await readdir(join(work, 'journal'))).toHaveLength(1);
    // Nothing under the storage root: the journal is where LETHE_JOURNAL says.
    await expect(readdir(join(files.root, '.lethe', 'journal'))).rejects.toMatchObject({ code: 'ENOENT' });
    execFileSync('pg_restore', ['--clean', '--if-exists', '--no-owner', '-d', db.url, dump]);
    await cp(join(work, 'files'), files.root, { recursive: true });

    const later = await runCli(['replay', '--json', '--since', new Date(Date.now() + 60_000).toISOString()], env);
    expect(later.code, later.stderr).toBe(0);
    expect(JSON.parse(later.stdout)).toMatchObject({ counts: { objects: 0, redone_rows: 0 }, restore_detected: true });

    const dry = await runCli(['replay', '--dry-run', '--json'], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dry_run: true, counts: { redone_rows: 3, failed: 0 } });
    for (const k of KEYS) expect(await files.exists(k)).toBe(true);

    const real = await runCli(['replay'], env);
    expect(real.code, real.stderr).toBe(0);
    expect(real.stdout).toMatch(/Re-erased 3 rows that came back/);
    expect(real.stdout).toMatch(/No restore is detected now/);
    for (const k of KEYS) expect(await files.exists(k)).toBe(false);
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM lethe_ledger WHERE outcome = 'replayed'`)).rows[0].n).toBe(3);
  });

  it('refuses bad input as usage errors (exit 2)', async () => {
    const since = await runCli(['replay', '--since', 'yesterday'], env);
    expect(since.code).toBe(2);
    expect(since.stderr).toMatch(/since: expected an ISO 8601 time/);
    const journal = await runCli(['replay'], { ...env, LETHE_JOURNAL: 'dir:relative/path' });
    expect(journal.code).toBe(2);
    expect(journal.stderr).toMatch(/journal \(LETHE_JOURNAL\): dir: needs an absolute path/);
    const inside = await runCli(['replay'], { ...env, LETHE_JOURNAL: `dir:${join(files.root, 'journal')}` });
    expect(inside.code).toBe(2);
    expect(inside.stderr).toMatch(/inside the storage root/);
    const off = await runCli(['replay'], { ...env, LETHE_JOURNAL: 'off' });
    expect(off.code).toBe(2);
    expect(off.stderr).toMatch(/replay needs the erasure journal/);
  });
});
