import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEngine, FileStorage, type DerivedOptions, type EngineOptions, type KeyOutcome, type Logger, type StoragePort } from '@lethe/engine';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';

/**
 * Derived data (docs/rights.md#derived-data) on real Postgres and files: child rows go in the
 * job's transaction, derived objects before the source file, a dedup blob with its last job, and
 * a source that is kept (refused, held, shared) keeps its derived data too.
 */
let db: TestDatabase;
let files: TempRoot;

const DERIVED: DerivedOptions = {
  tables: [
    { table: 'ocr_pages', column: 'job_id' },
    { table: 'extractions', column: 'source_key', refersTo: 'file_key' },
  ],
  objects: [{ template: '{file_key}.ocr.json' }, { template: 'thumbs/{id}.png' }, { template: 'pages/{id}/' }, { template: 'blobs/{blob_sha}.bin' }],
};

/** The real file storage, with every deleteMany call written down in order (and an optional hook before a call). */
function recordingStorage(root: string, log: string[][], before?: (keys: readonly string[]) => Promise<void>): StoragePort {
  const fs = new FileStorage({ root });
  return {
    describe: fs.describe,
    deleteMany: async (keys: readonly string[], signal?: AbortSignal): Promise<KeyOutcome[]> => {
      log.push([...keys]);
      await before?.(keys);
      return fs.deleteMany(keys, signal);
    },
    stat: (k) => fs.stat(k),
    list: (p) => fs.list(p),
    ping: () => fs.ping(),
    close: () => fs.close(),
  };
}

const expired = `(now() AT TIME ZONE 'UTC') - interval '2 days'`;
const live = `(now() AT TIME ZONE 'UTC') - interval '1 hour'`;

async function job(id: string, fileKey: string, created: string, blob: string | null = null): Promise<void> {
  await db.pool.query(`INSERT INTO jobs (id, file_key, purpose_code, created_at, blob_sha) VALUES ($1, $2, 'System Testing', ${created}, $3)`, [
    id,
    fileKey,
    blob,
  ]);
  await db.pool.query(`INSERT INTO ocr_pages (job_id, page) VALUES ($1, 1), ($1, 2)`, [id]);
  await db.pool.query(`INSERT INTO extractions (source_key, field) VALUES ($1, 'name')`, [fileKey]);
  for (const k of [fileKey, `${fileKey}.ocr.json`, `thumbs/${id}.png`, `pages/${id}/1.png`, `pages/${id}/2.png`]) if (!k.startsWith('..')) await files.put(k);
  if (blob && !blob.includes('/')) await files.put(`blobs/${blob}.bin`);
}

const count = async (sql: string, values: unknown[] = []): Promise<number> => (await db.pool.query<{ n: number }>(sql, values)).rows[0]!.n;

beforeEach(async () => {
  db = await createTestDatabase('derived');
  files = await createTempRoot('derived');
  await createJobsTable(db.pool);
  await db.pool.query(`ALTER TABLE jobs ADD COLUMN blob_sha text`);
  // A foreign key without ON DELETE CASCADE: the job's delete succeeds only if its pages went first.
  await db.pool.query(`CREATE TABLE ocr_pages (job_id text NOT NULL REFERENCES jobs (id), page int NOT NULL)`);
  await db.pool.query(`CREATE TABLE extractions (source_key text NOT NULL, field text NOT NULL)`);
  const engine = createEngine({ pool: db.pool });
  await engine.migrate();
  await engine.close();
});

afterEach(async () => {
  await db.drop();
  await files.remove();
});

async function run(storage: StoragePort | string, extra: Partial<EngineOptions> = {}) {
  const engine = createEngine({ pool: db.pool, storage, threads: 1, derived: DERIVED, ...extra });
  try {
    await engine.migrate();
    return await engine.run();
  } finally {
    await engine.close();
  }
}

describe('derived data', () => {
  it('deletes derived objects before the source, child rows with the job, and records evidence for each', async () => {
    await job('a', 'docs/a.pdf', expired);
    await job('l', 'docs/l.pdf', live);
    const log: string[][] = [];
    const summary = await run(recordingStorage(files.root, log));
    expect(summary.error).toBeNull();
    expect(summary.erased_count).toBe(1);
    // The first storage call is the derived objects, the last the source file.
    expect(log).toHaveLength(2);
    expect(log[0]!.sort()).toEqual(['docs/a.pdf.ocr.json', 'pages/a/1.png', 'pages/a/2.png', 'thumbs/a.png']);
    expect(log[1]).toEqual(['docs/a.pdf']);
    for (const k of ['docs/a.pdf', 'docs/a.pdf.ocr.json', 'thumbs/a.png', 'pages/a/1.png', 'pages/a/2.png']) expect(await files.exists(k), k).toBe(false);
    for (const k of ['docs/l.pdf', 'docs/l.pdf.ocr.json', 'thumbs/l.png', 'pages/l/1.png']) expect(await files.exists(k), k).toBe(true);
    expect(await count(`SELECT count(*)::int AS n FROM ocr_pages WHERE job_id = 'a'`)).toBe(0);
    expect(await count(`SELECT count(*)::int AS n FROM extractions WHERE source_key = 'docs/a.pdf'`)).toBe(0);
    expect(await count(`SELECT count(*)::int AS n FROM ocr_pages WHERE job_id = 'l'`)).toBe(2);
    const evidence = await db.pool.query<{ kind: string; declaration: string; object_key: string | null; row_count: number | null; outcome: string }>(
      `SELECT kind, declaration, object_key, row_count, outcome FROM lethe_ledger_derived WHERE job_id = 'a' ORDER BY kind, declaration, object_key`,
    );
    expect(evidence.rows).toEqual([
      { kind: 'object', declaration: 'pages/{id}/', object_key: 'pages/a/1.png', row_count: null, outcome: 'erased' },
      { kind: 'object', declaration: 'pages/{id}/', object_key: 'pages/a/2.png', row_count: null, outcome: 'erased' },
      { kind: 'object', declaration: 'thumbs/{id}.png', object_key: 'thumbs/a.png', row_count: null, outcome: 'erased' },
      { kind: 'object', declaration: '{file_key}.ocr.json', object_key: 'docs/a.pdf.ocr.json', row_count: null, outcome: 'erased' },
      { kind: 'rows', declaration: 'extractions', object_key: null, row_count: 1, outcome: 'deleted' },
      { kind: 'rows', declaration: 'ocr_pages', object_key: null, row_count: 2, outcome: 'deleted' },
    ]);
  });

  it("deletes child rows in the job rows' transaction: a failed outcome statement keeps both", async () => {
    await job('a', 'docs/a.pdf', expired);
    await db.pool.query(`CREATE FUNCTION refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'platform refuses'; END $$`);
    await db.pool.query(`CREATE TRIGGER refuse BEFORE DELETE ON jobs FOR EACH ROW EXECUTE FUNCTION refuse_delete()`);
    const summary = await run(`file://${files.root}`);
    expect(summary.status).toBe('failed');
    expect(await count(`SELECT count(*)::int AS n FROM jobs WHERE id = 'a'`)).toBe(1);
    expect(await count(`SELECT count(*)::int AS n FROM ocr_pages WHERE job_id = 'a'`)).toBe(2);
    expect(await count(`SELECT count(*)::int AS n FROM extractions`)).toBe(1);
    expect(await count(`SELECT count(*)::int AS n FROM lethe_ledger_derived`)).toBe(0);
  });

  it('keeps a dedup blob shared by two jobs until the last of them goes', async () => {
    await job('a', 'docs/a.pdf', expired, 'sha1');
    await job('b', 'docs/b.pdf', live, 'sha1');
    const first = await run(`file://${files.root}`);
    expect(first.erased_count).toBe(1);
    expect(await files.exists('docs/a.pdf')).toBe(false);
    expect(await files.exists('blobs/sha1.bin')).toBe(true);
    expect(
      await count(`SELECT count(*)::int AS n FROM lethe_ledger_derived WHERE job_id = 'a' AND object_key = 'blobs/sha1.bin' AND outcome = 'kept_shared'`),
    ).toBe(1);
    await db.pool.query(`UPDATE jobs SET created_at = ${expired} WHERE id = 'b'`);
    const second = await run(`file://${files.root}`);
    expect(second.erased_count).toBe(1);
    expect(await files.exists('blobs/sha1.bin')).toBe(false);
    expect(await count(`SELECT count(*)::int AS n FROM lethe_ledger_derived WHERE job_id = 'b' AND object_key = 'blobs/sha1.bin' AND outcome = 'erased'`)).toBe(
      1,
    );
  });

  it('deletes a blob once when every job that shares it goes in the same batch', async () => {
    await job('a', 'docs/a.pdf', expired, 'sha2');
    await job('b', 'docs/b.pdf', expired, 'sha2');
    const summary = await run(`file://${files.root}`);
    expect(summary.erased_count).toBe(2);
    expect(await files.exists('blobs/sha2.bin')).toBe(false);
  });

  it('keeps the derived data of a source that is refused, held or shared with a live row', async () => {
    await job('evil', '../outside.pdf', expired);
    await job('held', 'docs/held.pdf', expired);
    await db.pool.query(`INSERT INTO lethe_holds (file_key, reason, created_by) VALUES ('docs/held.pdf', 'litigation', 'test')`);
    await job('old', 'docs/shared.pdf', expired);
    await db.pool.query(`INSERT INTO jobs (id, file_key, purpose_code, created_at) VALUES ('new', 'docs/shared.pdf', 'System Testing', ${live})`);
    const summary = await run(`file://${files.root}`);
    expect(summary.erased_count).toBe(0);
    expect(summary.refused_count).toBe(1);
    expect(summary.held_count).toBe(1);
    expect(summary.shared_count).toBe(1);
    for (const id of ['evil', 'held', 'old']) {
      expect(await files.exists(`thumbs/${id}.png`), id).toBe(true);
      expect(await files.exists(`pages/${id}/1.png`), id).toBe(true);
      expect(await count(`SELECT count(*)::int AS n FROM ocr_pages WHERE job_id = $1`, [id])).toBe(2);
    }
    expect(await files.exists('docs/held.pdf.ocr.json')).toBe(true);
    expect(await files.exists('docs/shared.pdf.ocr.json')).toBe(true);
    expect(await count(`SELECT count(*)::int AS n FROM lethe_ledger_derived`)).toBe(0);
  });

  it("never deletes a derived key that is another live job's file or a held key", async () => {
    await job('a', 'docs/a.pdf', expired);
    // A live job whose own file is exactly what job a's template expands to.
    await db.pool.query(`INSERT INTO jobs (id, file_key, purpose_code, created_at) VALUES ('other', 'docs/a.pdf.ocr.json', 'System Testing', ${live})`);
    await job('b', 'docs/b.pdf', expired);
    await db.pool.query(`INSERT INTO lethe_holds (file_key, reason, created_by) VALUES ('thumbs/b.png', 'litigation', 'test')`);
    const summary = await run(`file://${files.root}`);
    expect(summary.error).toBeNull();
    expect(summary.erased_count).toBe(2);
    expect(await files.exists('docs/a.pdf')).toBe(false);
    expect(await files.exists('docs/a.pdf.ocr.json')).toBe(true);
    expect(await files.exists('thumbs/b.png')).toBe(true);
    const kept = await db.pool.query<{ object_key: string }>(`SELECT object_key FROM lethe_ledger_derived WHERE outcome = 'kept_shared' ORDER BY object_key`);
    expect(kept.rows.map((r) => r.object_key)).toEqual(['docs/a.pdf.ocr.json', 'thumbs/b.png']);
  });

  it('keeps the source file and row when a derived object cannot be deleted, and the rerun finishes the job', async () => {
    await job('f', 'docs/f.pdf', expired);
    await job('ok', 'docs/ok.pdf', expired);
    // A directory where the thumbnail should be: the file storage never removes a directory (a failure).
    await rm(join(files.root, 'thumbs/f.png'));
    await mkdir(join(files.root, 'thumbs/f.png/inner'), { recursive: true });
    const summary = await run(`file://${files.root}`);
    expect(summary.erased_count).toBe(1);
    expect(summary.failed_count).toBe(1);
    expect(await files.exists('docs/f.pdf')).toBe(true);
    expect(await count(`SELECT count(*)::int AS n FROM ocr_pages WHERE job_id = 'f'`)).toBe(2);
    const ledger = await db.pool.query<{ outcome: string; error_code: string }>(`SELECT outcome, error_code FROM lethe_ledger WHERE job_id = 'f'`);
    expect(ledger.rows).toEqual([{ outcome: 'failed', error_code: 'LETHE_E_DERIVED_FAILED' }]);
    await rm(join(files.root, 'thumbs/f.png'), { recursive: true });
    const rerun = await run(`file://${files.root}`);
    expect(rerun.erased_count).toBe(1);
    expect(await files.exists('docs/f.pdf')).toBe(false);
    expect(await count(`SELECT count(*)::int AS n FROM ocr_pages WHERE job_id = 'f'`)).toBe(0);
  });

  it("refuses a template that expands outside the root, and keeps that job's file and row", async () => {
    await job('bad', 'docs/bad.pdf', expired, '../../etc/passwd');
    await job('ok', 'docs/ok.pdf', expired);
    const summary = await run(`file://${files.root}`);
    expect(summary.refused_count).toBe(1);
    expect(summary.erased_count).toBe(1);
    expect(await files.exists('docs/bad.pdf')).toBe(true);
    expect(await count(`SELECT count(*)::int AS n FROM jobs WHERE id = 'bad'`)).toBe(1);
    const ledger = await db.pool.query<{ outcome: string; error_code: string }>(`SELECT outcome, error_code FROM lethe_ledger WHERE job_id = 'bad'`);
    expect(ledger.rows).toEqual([{ outcome: 'refused', error_code: 'LETHE_E_KEY_OUTSIDE_ROOT' }]);
  });

  it('recovers with a rerun when the batch dies between the derived objects and the source file', async () => {
    await job('a', 'docs/a.pdf', expired);
    await job('b', 'docs/b.pdf', expired);
    const log: string[][] = [];
    // At the source call, the batch's connection is terminated (as when the process is killed): its transaction is gone.
    const dying = recordingStorage(files.root, log, async (keys) => {
      if (!keys.includes('docs/a.pdf')) return;
      await db.pool.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()`,
      );
      throw new Error('killed');
    });
    const crashed = await run(dying);
    expect(crashed.status).toBe('failed');
    expect(await files.exists('thumbs/a.png')).toBe(false);
    expect(await files.exists('docs/a.pdf')).toBe(true);
    expect(await count(`SELECT count(*)::int AS n FROM jobs`)).toBe(2);
    expect(await count(`SELECT count(*)::int AS n FROM ocr_pages`)).toBe(4);
    const rerun = await run(`file://${files.root}`);
    expect(rerun.error).toBeNull();
    expect(rerun.status).toBe('completed');
    expect(await count(`SELECT count(*)::int AS n FROM jobs`)).toBe(0);
    expect(await count(`SELECT count(*)::int AS n FROM ocr_pages`)).toBe(0);
    for (const k of ['docs/a.pdf', 'docs/b.pdf', 'thumbs/a.png', 'pages/b/1.png', 'docs/a.pdf.ocr.json']) expect(await files.exists(k), k).toBe(false);
    // The derived objects the dead batch deleted are recorded now, as absent.
    expect(await count(`SELECT count(*)::int AS n FROM lethe_ledger_derived WHERE job_id = 'a' AND object_key = 'thumbs/a.png' AND outcome = 'absent'`)).toBe(
      1,
    );
  });

  it('warns before a run when a table referring to jobs is not declared, and runs anyway', async () => {
    await job('a', 'docs/a.pdf', expired);
    const warnings: { obj: Record<string, unknown>; msg: string | undefined }[] = [];
    const logger: Logger = {
      info: () => {},
      debug: () => {},
      error: () => {},
      warn: (obj, msg) => void warnings.push({ obj: obj as Record<string, unknown>, msg }),
      child: () => logger,
    };
    await db.pool.query(`ALTER TABLE ocr_pages DROP CONSTRAINT ocr_pages_job_id_fkey`);
    const summary = await run(`file://${files.root}`, { derived: { objects: DERIVED.objects! }, logger });
    expect(summary.status).toBe('completed');
    const coverage = warnings.filter((w) => w.obj.code === 'LETHE_E_COVERAGE');
    expect(coverage).toHaveLength(1);
    expect(coverage[0]!.msg).toMatch(/table public\.ocr_pages \(column job_id: id column\)/);
    // Found by its column's name (job_id) once the foreign key is gone; templates explain every object.
    expect(coverage[0]!.msg).not.toMatch(/prefix/);
  });

  it('refuses a bad declaration naming the field', () => {
    expect(() => createEngine({ pool: db.pool, derived: { objects: [{ template: 'static.json' }] } })).toThrow(
      /derived\.objects\[0\]\.template: must hold at least one placeholder/,
    );
    expect(() => createEngine({ pool: db.pool, derived: { objects: [{ template: '../{id}.json' }] } })).toThrow(
      /derived\.objects\[0\]\.template: .* not a safe relative key/,
    );
    expect(() => createEngine({ pool: db.pool, derived: { tables: [{ table: 'x;drop', column: 'id' }] } })).toThrow(
      /derived\.tables\[0\]\.table: expected a table name/,
    );
    expect(() => createEngine({ pool: db.pool, derived: { keep: [{ table: 'audit' } as never] } })).toThrow(/derived\.keep\[0\]\.reason/);
  });
});

describe('an erasure request with derived declarations', () => {
  it("erases the named job's derived objects and child rows with it, whatever its age, and leaves another principal's job alone", async () => {
    await db.pool.query(`ALTER TABLE jobs ADD COLUMN user_id text`);
    await job('r1', 'req/r1.pdf', live);
    await job('r2', 'req/r2.pdf', live);
    await db.pool.query(`UPDATE jobs SET user_id = CASE id WHEN 'r1' THEN 'p1' ELSE 'p2' END`);
    const { submitErasureRequest, runErasureRequest } = await import('@lethe/engine');
    const engine = createEngine({ pool: db.pool, storage: `file://${files.root}`, threads: 1, derived: DERIVED, erasure: { principalColumn: 'user_id' } });
    try {
      await submitErasureRequest(engine, {
        reference: 'DPO-D-1',
        target: { kind: 'principal', values: ['p1'] },
        requestedBy: 'p1',
        reason: 'request',
        submittedBy: 'dpo',
      });
      const { run: summary, request } = await runErasureRequest(engine, 'DPO-D-1');
      expect(summary).toMatchObject({ status: 'completed', failed_count: 0 });
      expect(request.state).toBe('completed');
    } finally {
      await engine.close();
    }
    for (const k of ['req/r1.pdf', 'req/r1.pdf.ocr.json', 'thumbs/r1.png', 'pages/r1/1.png']) expect(await files.exists(k), k).toBe(false);
    for (const k of ['req/r2.pdf', 'req/r2.pdf.ocr.json', 'thumbs/r2.png', 'pages/r2/1.png']) expect(await files.exists(k), k).toBe(true);
    expect(await count(`SELECT count(*)::int AS n FROM ocr_pages WHERE job_id = 'r1'`)).toBe(0);
    expect(await count(`SELECT count(*)::int AS n FROM extractions WHERE source_key = 'req/r1.pdf'`)).toBe(0);
    expect(await count(`SELECT count(*)::int AS n FROM ocr_pages WHERE job_id = 'r2'`)).toBe(2);
    expect(await count(`SELECT count(*)::int AS n FROM lethe_ledger_derived WHERE job_id = 'r1'`)).toBeGreaterThan(0);
  });
});
