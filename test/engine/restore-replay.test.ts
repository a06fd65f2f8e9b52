import { execFileSync } from 'node:child_process';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, ErrorCodes, inspectJobsTable, placeHold, runErasureRequest, submitErasureRequest, type Engine } from '@lethe/engine';
import { gatherHealthFacts, evaluateHealth } from '@lethe/engine/operations';
import { ListObjectsV2Command } from '@lethe/engine/testing';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';
import { putObjects, createBucket, s3Config, startS3Server, uniqueBucket, type S3TestServer } from '../support/s3-server.js';
import { describeS3 } from '../storage/describe-s3.js';

/**
 * Erasures survive a backup restore (docs/safety.md#erasures-survive-a-backup-restore): erase, take a pg_dump, erase more
 * (a retention run and an erasure request), restore the dump and the files, then replay: exactly
 * the erasures made after the dump are redone; a hold placed after the restore is honoured; a row
 * that is new at a reused id or key (another created_at) is never touched, nor its file.
 */
const utc = `(now() AT TIME ZONE 'UTC')`;
// [id, user, purpose, key, age]: `A*` are erased before the dump (General, 40 days), the others after it.
const ROWS: readonly [string, string, string, string, string][] = [
  ['A1', 'u1', 'General', 'a/one.pdf', '40 days'],
  ['A2', 'u1', 'General', 'a/two.pdf', '40 days'],
  ['B1', 'u1', 'System Testing', 'b/one.pdf', '2 days'],
  ['B2', 'u1', 'System Testing', 'b/two.pdf', '2 days'],
  ['H', 'u1', 'System Testing', 'h/held.pdf', '2 days'],
  ['X', 'u1', 'System Testing', 'x/same-id.pdf', '2 days'],
  ['U', 'u1', 'System Testing', 'u/reused.pdf', '2 days'],
  ['R', 'u9', 'General', 'r/request.pdf', '1 day'],
  ['K', 'u1', 'General', 'k/keep.pdf', '1 day'],
];

function pgDump(url: string, file: string): void {
  execFileSync('pg_dump', ['-Fc', '-f', file, url], { stdio: ['ignore', 'ignore', 'pipe'] });
}

function pgRestore(url: string, file: string): void {
  execFileSync('pg_restore', ['--clean', '--if-exists', '--no-owner', '-d', url, file], { stdio: ['ignore', 'ignore', 'pipe'] });
}

async function seed(db: TestDatabase): Promise<void> {
  await createJobsTable(db.pool);
  await db.pool.query(`ALTER TABLE jobs ADD COLUMN user_id text`);
  for (const [id, user, purpose, key, age] of ROWS)
    await db.pool.query(`INSERT INTO jobs (id, user_id, purpose_code, file_key, created_at) VALUES ($1, $2, $3, $4, ${utc} - $5::interval)`, [
      id,
      user,
      purpose,
      key,
      age,
    ]);
}

const jobIds = async (db: TestDatabase): Promise<string[]> => (await db.pool.query<{ id: string }>('SELECT id FROM jobs ORDER BY id')).rows.map((r) => r.id);

/** The part both stores share: erase, dump, erase more, restore (files by `restoreFiles`), replay. */
async function eraseDumpEraseRestore(db: TestDatabase, engine: Engine, work: string, restoreFiles: () => Promise<void>, snapshotFiles: () => Promise<void>) {
  const first = await engine.run({ purposes: ['General'] });
  expect(first).toMatchObject({ status: 'completed', deleted_count: 2 });
  const dump = join(work, 'backup.dump');
  pgDump(db.url, dump);
  await snapshotFiles();
  const second = await engine.run({});
  expect(second).toMatchObject({ status: 'completed', deleted_count: 5 });
  await submitErasureRequest(engine, {
    reference: 'DPO-9',
    target: { kind: 'principal', values: ['u9'] },
    requestedBy: 'u9',
    reason: 'request',
    submittedBy: 'dpo',
  });
  const { run } = await runErasureRequest(engine, 'DPO-9');
  expect(run).toMatchObject({ status: 'completed', erased_count: 1 });
  expect(await jobIds(db)).toEqual(['K']);
  pgRestore(db.url, dump);
  await restoreFiles();
  expect(await jobIds(db)).toEqual(['B1', 'B2', 'H', 'K', 'R', 'U', 'X']);
}

describe('replay after a database restore (files)', () => {
  let db: TestDatabase;
  let files: TempRoot;
  let engine: Engine;
  let work: string;
  let snapshot: string;

  beforeAll(async () => {
    db = await createTestDatabase('restore_replay');
    files = await createTempRoot('restore-replay');
    work = await mkdtemp(join(tmpdir(), 'lethe-restore-replay-work-'));
    snapshot = join(work, 'files');
    await seed(db);
    for (const [, , , key] of ROWS) await files.put(key);
    engine = createEngine({ databaseUrl: db.url, storage: `file://${files.root}`, threads: 0, erasure: { principalColumn: 'user_id' } });
    await engine.migrate();
  });

  afterAll(async () => {
    await engine?.close();
    await db?.drop();
    await files?.remove();
    await rm(work, { recursive: true, force: true });
  });

  it('redoes exactly the erasures made after the dump, honours a later hold, never touches a newer row', async () => {
    await eraseDumpEraseRestore(
      db,
      engine,
      work,
      // The documents come back from their backup; the journal (under .lethe/) is not part of it.
      () => cp(snapshot, files.root, { recursive: true, filter: (src) => !src.includes('/.lethe') }),
      () => cp(files.root, snapshot, { recursive: true, filter: (src) => !src.includes('/.lethe') }),
    );
    const journal = await readdir(join(files.root, '.lethe', 'journal'));
    expect(journal.length).toBeGreaterThanOrEqual(3);
    for (const [, , , key] of ROWS.filter(([id]) => id !== 'A1' && id !== 'A2')) expect(await files.exists(key), key).toBe(true);

    // Detected: health says so, and a scheduled run is refused.
    expect(await engine.checkRestore()).toMatchObject({ detected: true, entries: 6 });
    const facts = await gatherHealthFacts(db.pool, Date.now(), 120_000);
    expect(evaluateHealth(facts)).toMatchObject({ restore_detected: true });
    await expect(engine.run({ trigger: 'schedule' })).rejects.toMatchObject({ code: ErrorCodes.RESTORE_DETECTED });

    // After the restore: a hold on H; X is a new document at its old id; a new row uses U's key.
    const table = await inspectJobsTable(db.pool, engine.options.jobs);
    await placeHold(db.pool, table, { target: { fileKey: 'h/held.pdf' }, reason: 'INC-1 litigation', by: 'legal' });
    await db.pool.query(`UPDATE jobs SET created_at = ${utc} WHERE id = 'X'`);
    await db.pool.query(`INSERT INTO jobs (id, user_id, purpose_code, file_key, created_at) VALUES ('U2', 'u1', 'General', 'u/reused.pdf', ${utc})`);

    const dry = await engine.replay({ dryRun: true });
    expect(dry.counts).toMatchObject({ redone_rows: 3, kept_shared: 1, held: 1, newer: 1, recorded: 2, failed: 0 });
    expect(await jobIds(db)).toEqual(['B1', 'B2', 'H', 'K', 'R', 'U', 'U2', 'X']);

    const report = await engine.replay({});
    expect(report.counts).toMatchObject({ redone_rows: 3, kept_shared: 1, held: 1, newer: 1, recorded: 2, failed: 0 });
    expect([...report.redone].sort()).toEqual(['B1', 'B2', 'R', 'U']);
    expect(report.restore_detected).toBe(false);
    expect(await jobIds(db)).toEqual(['H', 'K', 'U2', 'X']);
    for (const k of ['b/one.pdf', 'b/two.pdf', 'r/request.pdf']) expect(await files.exists(k), k).toBe(false);
    for (const k of ['h/held.pdf', 'x/same-id.pdf', 'u/reused.pdf', 'k/keep.pdf']) expect(await files.exists(k), k).toBe(true);
    const ledger = await db.pool.query<{ job_id: string; request_ref: string | null }>(
      `SELECT job_id, request_ref FROM lethe_ledger WHERE outcome = 'replayed' ORDER BY job_id`,
    );
    expect(ledger.rows).toEqual([
      { job_id: 'B1', request_ref: null },
      { job_id: 'B2', request_ref: null },
      { job_id: 'R', request_ref: 'DPO-9' },
      { job_id: 'U', request_ref: null },
    ]);
    const replays = await db.pool.query(`SELECT dry_run, finished_at IS NOT NULL AS finished FROM lethe_journal_replays ORDER BY id`);
    expect(replays.rows).toEqual([
      { dry_run: true, finished: true },
      { dry_run: false, finished: true },
    ]);

    // Cleared: scheduled runs go ahead, health no longer says so, and a second replay redoes nothing.
    expect(await engine.checkRestore()).toMatchObject({ detected: false });
    expect(evaluateHealth(await gatherHealthFacts(db.pool, Date.now(), 120_000))).toMatchObject({ restore_detected: false });
    expect(await engine.run({ trigger: 'schedule' })).toMatchObject({ status: 'completed' });
    expect((await engine.replay({})).counts).toMatchObject({ redone_rows: 0, redone_files: 0, failed: 0 });
  });
});

describe('a journal that cannot be written', () => {
  let db: TestDatabase;
  let files: TempRoot;
  let engine: Engine;
  let outside: TempRoot;

  beforeAll(async () => {
    db = await createTestDatabase('journal_fails');
    files = await createTempRoot('journal-fails');
    await createJobsTable(db.pool);
    await db.pool.query(`INSERT INTO jobs (id, file_key, purpose_code, created_at) VALUES ('j1', 'j/1.pdf', 'General', ${utc} - interval '40 days')`);
    await files.put('j/1.pdf');
    // A regular file where the journal's directory should be: every write fails.
    outside = await createTempRoot('journal-fails-dir');
    await outside.put('journal');
    engine = createEngine({ databaseUrl: db.url, storage: `file://${files.root}`, threads: 0, journal: `dir:${join(outside.root, 'journal')}` });
    await engine.migrate();
  });

  afterAll(async () => {
    await engine?.close();
    await db?.drop();
    await files?.remove();
    await outside?.remove();
  });

  it('fails the run with LETHE_E_JOURNAL after the batch commit (the erasure is in the ledger)', async () => {
    const summary = await engine.run({});
    expect(summary).toMatchObject({ status: 'failed', error: { code: ErrorCodes.JOURNAL } });
    expect(summary.error?.message).toMatch(/erasure journal .* could not be written/);
    const ledger = await db.pool.query(`SELECT job_id, outcome FROM lethe_ledger`);
    expect(ledger.rows).toEqual([{ job_id: 'j1', outcome: 'erased' }]);
  });
});

describeS3('replay after a database restore (S3)', () => {
  let server: S3TestServer;
  let db: TestDatabase;
  let engine: Engine;
  let work: string;
  const bucket = uniqueBucket('restore-replay');
  const keys = ROWS.map(([, , , key]) => key);

  const objectKeys = async (prefix: string): Promise<string[]> => {
    const out = await server.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    return (out.Contents ?? []).map((o) => o.Key!).sort();
  };

  beforeAll(async () => {
    [server, db] = await Promise.all([startS3Server(), createTestDatabase('s3_restore_replay')]);
    work = await mkdtemp(join(tmpdir(), 'lethe-s3-restore-replay-'));
    await createBucket(server, bucket);
    await seed(db);
    await putObjects(
      server,
      bucket,
      keys.map((k) => `docs/${k}`),
    );
    engine = createEngine({ databaseUrl: db.url, storage: s3Config(server, bucket, 'docs/'), threads: 0, erasure: { principalColumn: 'user_id' } });
    await engine.migrate();
  });

  afterAll(async () => {
    await engine?.close();
    await server?.stop();
    await db?.drop();
    await rm(work, { recursive: true, force: true });
  });

  it('journals under <prefix>.lethe/journal/ and redoes the later erasures after a restore', async () => {
    // The bucket's restore brings every document back (as a restore from a bucket backup would).
    await eraseDumpEraseRestore(
      db,
      engine,
      work,
      () =>
        putObjects(
          server,
          bucket,
          keys.filter((k) => !k.startsWith('a/')).map((k) => `docs/${k}`),
        ),
      async () => {},
    );
    expect((await objectKeys('docs/.lethe/journal/')).length).toBeGreaterThanOrEqual(3);
    expect(await engine.checkRestore()).toMatchObject({ detected: true });
    const report = await engine.replay({});
    expect(report.counts).toMatchObject({ redone_rows: 6, held: 0, newer: 0, recorded: 2, failed: 0 });
    expect(await jobIds(db)).toEqual(['K']);
    expect((await objectKeys('docs/')).filter((k) => !k.startsWith('docs/.lethe/'))).toEqual(['docs/k/keep.pdf']);
    expect(await engine.checkRestore()).toMatchObject({ detected: false });
  });
});
