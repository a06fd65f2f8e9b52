import { execFileSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEngine, ErrorCodes, type Engine } from '@lethe/engine';
import { RUN_LOCK_KEY } from '@lethe/engine/testing';
import { createJobsTable, createTestDatabase, insertJobs, type CreatedAtType, type IdType, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';

const UTC_NOW = `(now() AT TIME ZONE 'UTC')`;
let db: TestDatabase;
let files: TempRoot;
let engine: Engine;

beforeAll(async () => {
  db = await createTestDatabase('edge');
  await createJobsTable(db.pool);
});
afterAll(async () => {
  await db.drop();
});
beforeEach(async () => {
  files = await createTempRoot('edge');
  await db.pool.query('TRUNCATE jobs');
  engine = createEngine({ databaseUrl: db.url, storage: `file://${files.root}`, threads: 1, batchSize: 3 });
  await engine.migrate();
});
afterEach(async () => {
  await engine.close();
  await files.remove();
});

describe('id and created_at types (the platform table as it is)', () => {
  const combos: [IdType, CreatedAtType][] = [
    ['text', 'timestamp'],
    ['uuid', 'timestamptz'],
    ['bigint', 'timestamp'],
    ['bigint', 'timestamptz'],
    ['uuid', 'timestamp'],
  ];
  it.each(combos)('id %s, created_at %s: erases expired rows only', async (idType, createdAt) => {
    const table = `jobs_${idType}_${createdAt}`;
    await createJobsTable(db.pool, { idType, createdAt, table });
    const expr = (age: string) => (createdAt === 'timestamp' ? `${UTC_NOW} - interval '${age}'` : `now() - interval '${age}'`);
    await insertJobs(
      db.pool,
      [
        ...(idType === 'uuid'
          ? [{ id: '6f1c1d7e-4a47-4a4b-9a59-0b8e3b0f5d01' }, { id: '6f1c1d7e-4a47-4a4b-9a59-0b8e3b0f5d02' }]
          : idType === 'text'
            ? [{ id: 'a' }, { id: 'b' }]
            : [{}, {}]
        ).map((ids, i) => ({
          ...ids,
          fileKey: `${table}/${i}.pdf`,
          purpose: 'General',
          createdAtSql: expr(i === 0 ? '30 days 1 minute' : '29 days 23 hours'),
        })),
      ],
      table,
    );
    await files.put(`${table}/0.pdf`);
    await files.put(`${table}/1.pdf`);
    const e = createEngine({ databaseUrl: db.url, storage: `file://${files.root}`, threads: 1, jobs: { table } });
    try {
      const s = await e.run();
      expect(s).toMatchObject({ status: 'completed', deleted_count: 1, erased_count: 1, failed_count: 0 });
    } finally {
      await e.close();
    }
    expect(await files.exists(`${table}/0.pdf`)).toBe(false);
    expect(await files.exists(`${table}/1.pdf`)).toBe(true);
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n).toBe(1);
  });
});

describe('guards', () => {
  it('keeps a file while a live row still refers to it, and erases it once every row has expired', async () => {
    await insertJobs(db.pool, [
      { id: 'old', fileKey: 'shared.pdf', purpose: 'System Testing', createdAtSql: `${UTC_NOW} - interval '2 days'` },
      { id: 'live', fileKey: 'shared.pdf', purpose: 'Financial', createdAtSql: `${UTC_NOW} - interval '2 days'` },
      { id: 'pair-a', fileKey: 'pair.pdf', purpose: 'System Testing', createdAtSql: `${UTC_NOW} - interval '2 days'` },
      { id: 'pair-b', fileKey: 'pair.pdf', purpose: 'General', createdAtSql: `${UTC_NOW} - interval '40 days'` },
      { id: 'nullc', fileKey: 'nullc.pdf', purpose: 'System Testing', createdAtSql: `${UTC_NOW} - interval '2 days'` },
      { id: 'nullc-twin', fileKey: 'nullc.pdf', purpose: 'General', createdAtSql: null },
    ]);
    for (const k of ['shared.pdf', 'pair.pdf', 'nullc.pdf']) await files.put(k);
    const s = await engine.run();
    expect(s).toMatchObject({ shared_count: 2, deleted_count: 2, erased_count: 1, absent_count: 1 });
    expect(await files.exists('shared.pdf')).toBe(true);
    expect(await files.exists('nullc.pdf')).toBe(true);
    expect(await files.exists('pair.pdf')).toBe(false);
    const ledger = await db.pool.query(`SELECT job_id, outcome FROM lethe_ledger WHERE file_key = 'pair.pdf' ORDER BY outcome`);
    expect(ledger.rows.map((r) => r.outcome)).toEqual(['absent', 'erased']);
    await db.pool.query(`DELETE FROM jobs WHERE id IN ('live', 'nullc-twin')`);
    const again = await engine.run();
    expect(again).toMatchObject({ erased_count: 2, shared_count: 0 });
    expect(await files.exists('shared.pdf')).toBe(false);
  });

  it('refuses keys that escape the root through a symlinked directory, and a key that is a symlink (neither followed nor unlinked)', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'lethe-outside-'));
    try {
      await writeFile(join(outside, 'victim.pdf'), 'precious');
      await symlink(outside, join(files.root, 'escape'));
      await mkdir(join(files.root, 'links'));
      await symlink(join(outside, 'victim.pdf'), join(files.root, 'links', 'victim-link.pdf'));
      await insertJobs(db.pool, [
        { id: 'dir', fileKey: 'escape/victim.pdf', purpose: 'General', createdAtSql: `${UTC_NOW} - interval '40 days'` },
        { id: 'abs', fileKey: `${outside}/victim.pdf`, purpose: 'General', createdAtSql: `${UTC_NOW} - interval '40 days'` },
        { id: 'dots', fileKey: 'a/../../victim.pdf', purpose: 'General', createdAtSql: `${UTC_NOW} - interval '40 days'` },
        { id: 'link', fileKey: 'links/victim-link.pdf', purpose: 'General', createdAtSql: `${UTC_NOW} - interval '40 days'` },
        { id: 'empty', fileKey: '', purpose: 'General', createdAtSql: `${UTC_NOW} - interval '40 days'` },
        { id: 'nul', fileKey: null, purpose: 'General', createdAtSql: `${UTC_NOW} - interval '40 days'` },
      ]);
      const s = await engine.run();
      expect(s.refused_count).toBe(6);
      expect(s.refused.map((r) => [r.job_id, r.code]).sort()).toEqual([
        ['abs', ErrorCodes.KEY_OUTSIDE_ROOT],
        ['dir', ErrorCodes.KEY_OUTSIDE_ROOT],
        ['dots', ErrorCodes.KEY_OUTSIDE_ROOT],
        ['empty', ErrorCodes.KEY_INVALID],
        ['link', ErrorCodes.KEY_SYMLINK],
        ['nul', ErrorCodes.KEY_INVALID],
      ]);
      expect(await readFile(join(outside, 'victim.pdf'), 'utf8')).toBe('precious');
      // A symlink at the key is refused, not unlinked: unlinking it would not erase the file it names.
      expect((await lstat(join(files.root, 'links', 'victim-link.pdf'))).isSymbolicLink()).toBe(true);
      expect(s.erased_count).toBe(0);
      const kept = await db.pool.query(`SELECT id FROM jobs ORDER BY id`);
      expect(kept.rows.map((r) => r.id)).toEqual(['abs', 'dir', 'dots', 'empty', 'link', 'nul']);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('keeps the row of a file it may not delete (permission), and reports the failure by code', async () => {
    await files.put('locked/file.pdf');
    await insertJobs(db.pool, [{ id: 'locked', fileKey: 'locked/file.pdf', purpose: 'General', createdAtSql: `${UTC_NOW} - interval '40 days'` }]);
    const asRoot = process.getuid?.() === 0;
    const path = join(files.root, 'locked/file.pdf');
    if (asRoot) execFileSync('chattr', ['+i', path]);
    else execFileSync('chmod', ['0555', join(files.root, 'locked')]);
    try {
      const s = await engine.run();
      expect(s).toMatchObject({ status: 'completed', deleted_count: 0, failed_count: 1, failed_files: ['locked/file.pdf'] });
      expect(s.errors[0]!.code).toBe(asRoot ? 'EPERM' : 'EACCES');
      expect(await files.exists('locked/file.pdf')).toBe(true);
      expect((await db.pool.query(`SELECT count(*)::int AS n FROM jobs`)).rows[0].n).toBe(1);
    } finally {
      if (asRoot) execFileSync('chattr', ['-i', path]);
      else execFileSync('chmod', ['0755', join(files.root, 'locked')]);
    }
    const retry = await engine.run();
    expect(retry).toMatchObject({ deleted_count: 1, failed_count: 0 });
  });

  it('a directory at a key is a failure, never removed', async () => {
    await mkdir(join(files.root, 'dir.pdf'));
    // Another file in the root: a store whose only entry is a directory at the one expired key
    // would look empty (an unmounted volume), and the run would stop before deleting.
    await files.put('other/live.pdf');
    await insertJobs(db.pool, [{ id: 'd', fileKey: 'dir.pdf', purpose: 'General', createdAtSql: `${UTC_NOW} - interval '40 days'` }]);
    const s = await engine.run();
    expect(s.failed_count).toBe(1);
    expect((await lstat(join(files.root, 'dir.pdf'))).isDirectory()).toBe(true);
  });
});

describe('run options', () => {
  beforeEach(async () => {
    await insertJobs(
      db.pool,
      ['a', 'b', 'c', 'd', 'e'].map((id) => ({
        id,
        fileKey: `${id}.pdf`,
        purpose: id === 'e' ? 'System Testing' : 'General',
        createdAtSql: `${UTC_NOW} - interval '40 days'`,
      })),
    );
    for (const id of ['a', 'b', 'c', 'd', 'e']) await files.put(`${id}.pdf`);
  });

  it('a dry run deletes nothing, reports by purpose, and is audited under its own action', async () => {
    const s = await engine.run({ dryRun: true });
    expect(s).toMatchObject({ dry_run: true, would_delete_count: 5, deleted_count: 0 });
    expect(s.by_purpose.General!.selected).toBe(4);
    for (const id of ['a', 'b', 'c', 'd', 'e']) expect(await files.exists(`${id}.pdf`)).toBe(true);
    const actions = await db.pool.query(`SELECT action FROM audit_logs WHERE details->>'run_id' = $1`, [s.run_id]);
    expect(actions.rows).toEqual([{ action: 'cleanup_dry_run' }]);
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM lethe_ledger WHERE run_id = $1`, [s.run_id])).rows[0].n).toBe(0);
  });

  it('--limit and --purpose narrow the run; an unknown purpose is refused by name', async () => {
    expect(await engine.run({ limit: 2, purposes: ['General'] })).toMatchObject({ deleted_count: 2 });
    expect(await files.exists('e.pdf')).toBe(true);
    await expect(engine.run({ purposes: ['Genral'] })).rejects.toThrow(/purpose: unknown purpose "Genral"; expected one of/);
    await expect(engine.run({ limit: 0 })).rejects.toThrow(/limit: must be a positive integer/);
  });

  it('refuses a second run while one holds the run lock, with a clear error', async () => {
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [RUN_LOCK_KEY]);
      await expect(engine.run()).rejects.toMatchObject({
        code: ErrorCodes.RUN_IN_PROGRESS,
        message: expect.stringMatching(/another Lethe run is in progress/),
      });
    } finally {
      await holder.end();
    }
    expect(await engine.run()).toMatchObject({ status: 'completed', deleted_count: 5 });
  });
});
