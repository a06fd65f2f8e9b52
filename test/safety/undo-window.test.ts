import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_JOBS_TABLE, ErrorCodes, FileStorage, inspectJobsTable, placeHold, releaseHolds, type KeyOutcome, type TrashRequest } from '@lethe/engine';
import { purgeTrash } from '@lethe/engine/operations';
import { getRun, restoreFile } from '@lethe/engine/operations';
import { MemoryStorage } from '@lethe/engine/testing';
import { createJobsTable } from '../support/database.js';
import { createSafetyFixture, type SafetyFixture } from './fixture.js';

let f: SafetyFixture;

beforeAll(async () => {
  f = await createSafetyFixture('undo');
});
afterAll(async () => {
  await f.close();
});
beforeEach(async () => {
  await f.reset();
});

/** Makes every trashed row due now, on the database clock (no sleeps). */
const backdateTrash = (): Promise<unknown> => f.db.pool.query(`UPDATE lethe_ledger SET purge_after = now() - interval '1 second' WHERE outcome = 'trashed'`);

describe('undo window: trash and restore', () => {
  it('moves erased files into .lethe/trash/<run>/<key>, records them trashed, and restores file and row byte-identical within the window', async () => {
    await f.seed([
      { id: 'a', key: 'uploads/a.pdf', body: 'A\u0000binary\u00ff' },
      { id: 'b', key: 'uploads/b.pdf' },
      { id: 'keep', key: 'uploads/keep.pdf', age: '1 day' },
    ]);
    const before = await f.jobRow('a');
    const engine = f.engine({ undoWindow: '7d' });
    const s = await engine.run();
    expect(s).toMatchObject({ status: 'completed', deleted_count: 2, erased_count: 2 });
    expect(await f.files.exists('uploads/a.pdf')).toBe(false);
    expect(await f.files.exists('uploads/keep.pdf')).toBe(true);
    const trashed = await f.ledger(`outcome = 'trashed'`);
    expect(trashed).toHaveLength(2);
    const a = trashed.find((r) => r.job_id === 'a')!;
    expect(a.trash_location).toBe(`.lethe/trash/${s.run_id}/uploads/a.pdf`);
    const window = await f.db.pool.query<{ ok: boolean }>(`SELECT purge_after - erased_at = interval '7 days' AS ok FROM lethe_ledger WHERE id = $1`, [a.id]);
    expect(window.rows[0]!.ok).toBe(true);
    expect(await readFile(join(f.files.root, a.trash_location as string), 'utf8')).toBe('A\u0000binary\u00ff');
    // The trash is Lethe's: listing (reconcile, verify) never sees it.
    const listed: string[] = [];
    for await (const o of new FileStorage({ root: f.files.root }).list()) listed.push(o.key);
    expect(listed).toEqual(['uploads/keep.pdf']);

    const r = await restoreFile(engine, { fileKey: 'uploads/a.pdf', by: 'oncall@test' });
    expect(r).toMatchObject({ restored_job_ids: ['a'], already_present_job_ids: [], still_expired_job_ids: ['a'], resumed: false, trashed_by_run: s.run_id });
    expect(await f.read('uploads/a.pdf')).toBe('A\u0000binary\u00ff');
    expect(await f.jobRow('a')).toEqual(before);
    expect(await f.files.exists(a.trash_location as string)).toBe(false);
    expect(await f.ledger(`job_id = 'a'`)).toMatchObject([
      { outcome: 'trashed', settled_at: expect.any(Date) },
      { outcome: 'restored', trash_location: a.trash_location, error: 'restored by oncall@test' },
    ]);
    const audit = await f.db.pool.query(`SELECT details FROM audit_logs WHERE action = 'cleanup_restored'`);
    expect(audit.rows).toHaveLength(1);
    expect(audit.rows[0].details).toMatchObject({ source: 'lethe', file_key: 'uploads/a.pdf', restored_job_ids: ['a'], by: 'oncall@test' });
    // A second restore finds nothing in the trash and says so.
    await expect(restoreFile(engine, { fileKey: 'uploads/a.pdf', by: 'x' })).rejects.toMatchObject({
      code: ErrorCodes.NOT_FOUND,
      message: expect.stringMatching(/already restored/),
    });
  });

  it('restores rows of any id and timestamp type (bigint identity, uuid, timestamptz) with the same values', async () => {
    for (const [table, idType] of [
      ['jobs_big', 'bigint'],
      ['jobs_uuid', 'uuid'],
    ] as const) {
      await createJobsTable(f.db.pool, { table, idType, createdAt: 'timestamptz' });
      const id = (
        await f.db.pool.query<{ id: string }>(
          `INSERT INTO ${table} (${idType === 'uuid' ? 'id, ' : ''}file_key, purpose_code, created_at) VALUES (${idType === 'uuid' ? 'gen_random_uuid(), ' : ''}$1, 'General', now() - interval '40 days 3 hours 0.123456 seconds') RETURNING id::text`,
          [`${table}/a.pdf`],
        )
      ).rows[0]!.id;
      await f.files.put(`${table}/a.pdf`);
      const before = (await f.db.pool.query(`SELECT to_jsonb(j) AS j FROM ${table} j`)).rows[0].j;
      const engine = f.engine({ undoWindow: '7d', jobs: { table } });
      expect(await engine.run()).toMatchObject({ deleted_count: 1 });
      expect(await restoreFile(engine, { fileKey: `${table}/a.pdf`, by: 'x' })).toMatchObject({ restored_job_ids: [id] });
      expect((await f.db.pool.query(`SELECT to_jsonb(j) AS j FROM ${table} j`)).rows[0].j).toEqual(before);
    }
  });

  it('restores with a hold, so the next run keeps the restored rows', async () => {
    await f.seed([{ id: 'h', key: 'h.pdf' }]);
    const engine = f.engine({ undoWindow: 'on' });
    await engine.run();
    const r = await restoreFile(engine, { fileKey: 'h.pdf', by: 'legal', holdReason: 'FM-003 complaint 17' });
    expect(r.hold_id).not.toBeNull();
    expect(await engine.run()).toMatchObject({ held_count: 1, deleted_count: 0 });
    expect(await f.files.exists('h.pdf')).toBe(true);
  });

  it('refuses to restore over a different file now at the key', async () => {
    await f.seed([{ id: 'c', key: 'c.pdf' }]);
    const engine = f.engine({ undoWindow: '7d' });
    await engine.run();
    await f.files.put('c.pdf', 'a new upload');
    await expect(restoreFile(engine, { fileKey: 'c.pdf', by: 'x' })).rejects.toMatchObject({ code: ErrorCodes.CONFLICT });
    expect(await f.read('c.pdf')).toBe('a new upload');
    expect(await f.jobRow('c')).toBeNull();
  });

  it('a trashed file is an erasure in run records: not a failure in `runs show`, counted when a killed run is closed', async () => {
    await f.seed([
      { id: 'q1', key: 'q/1.pdf' },
      { id: 'q2', key: 'q/2.pdf' },
    ]);
    const engine = f.engine({ undoWindow: '7d' });
    const s = await engine.run();
    expect((await getRun(f.db.pool, s.run_id))!.failuresByCode).toEqual([]);
    // A run whose process died: its record is closed by the next run from its ledger rows.
    await f.db.pool.query(`UPDATE lethe_runs SET status = 'running', summary = NULL WHERE id = $1`, [s.run_id]);
    await engine.run();
    const closed = await f.db.pool.query(
      `SELECT details FROM audit_logs WHERE action = 'cleanup_expired_jobs' AND details->>'run_id' = $1 AND details->>'status' = 'interrupted'`,
      [s.run_id],
    );
    expect(closed.rows[0].details).toMatchObject({ deleted_count: 2, erased_count: 2 });
  });

  it('per-purpose windows override the global one', async () => {
    await f.seed([
      { id: 't', key: 't.log', purpose: 'System Testing', age: '2 days' },
      { id: 'g', key: 'g.pdf' },
    ]);
    const s = await f.engine({ undoWindow: '7d', undoWindows: { 'System Testing': 'off' } }).run();
    expect(s.deleted_count).toBe(2);
    expect((await f.ledger()).map((r) => [r.job_id, r.outcome])).toEqual(
      expect.arrayContaining([
        ['t', 'erased'],
        ['g', 'trashed'],
      ]),
    );
  });

  it('refuses a run with an undo window on a store that has no trash', async () => {
    const engine = f.engine({ undoWindow: '7d', storage: new MemoryStorage() });
    await expect(engine.run()).rejects.toMatchObject({
      code: ErrorCodes.CONFIG,
      message: expect.stringMatching(/^undoWindow: memory:\/\/ has no undo window/),
    });
  });
});

describe('purge', () => {
  it('keeps trash within its grace, purges past it (ledger purged, job_row dropped, audit), and a later restore says the file is gone', async () => {
    await f.seed([{ id: 'p', key: 'p/1.pdf' }]);
    const engine = f.engine({ undoWindow: '7d' });
    await engine.run();
    const [trashed] = await f.ledger(`outcome = 'trashed'`);
    expect(await purgeTrash(engine, { by: 'test' })).toMatchObject({ due: 0, purged: 0 });
    expect(await f.files.exists(trashed!.trash_location as string)).toBe(true);
    await backdateTrash();
    expect(await purgeTrash(engine, { by: 'test', dryRun: true })).toMatchObject({ dry_run: true, due: 1, purged: 0 });
    expect(await purgeTrash(engine, { by: 'test' })).toMatchObject({ due: 1, purged: 1, files_deleted: 1, failed: 0, held: 0 });
    expect(await f.files.exists(trashed!.trash_location as string)).toBe(false);
    expect(await stat(join(f.files.root, '.lethe/trash')).then((s) => s.isDirectory())).toBe(true);
    expect(await f.ledger(`job_id = 'p'`)).toMatchObject([
      { outcome: 'trashed', settled_at: expect.any(Date), job_row: null },
      { outcome: 'purged', trash_location: trashed!.trash_location, job_row: null },
    ]);
    expect((await f.db.pool.query(`SELECT details FROM audit_logs WHERE action = 'cleanup_trash_purged'`)).rows[0].details).toMatchObject({
      purged: 1,
      by: 'test',
    });
    await expect(restoreFile(engine, { fileKey: 'p/1.pdf', by: 'x' })).rejects.toMatchObject({
      code: ErrorCodes.GONE,
      message: expect.stringMatching(/^file_key "p\/1.pdf": gone: its undo window ended and the trash copy was purged at /),
    });
    // Purged again: nothing due, nothing recorded twice.
    expect(await purgeTrash(engine, { by: 'test' })).toMatchObject({ due: 0 });
  });

  it('purges in batches (keyset by ledger id, past id 9 and 10)', async () => {
    await f.seed(Array.from({ length: 25 }, (_, i) => ({ id: `b${i}`, key: `batch/${i}.pdf` })));
    const engine = f.engine({ undoWindow: '7d' });
    await engine.run();
    await backdateTrash();
    expect(await purgeTrash(engine, { by: 'test', batchSize: 7 })).toMatchObject({ due: 25, purged: 25, files_deleted: 25 });
    expect(await f.ledger(`outcome = 'trashed' AND settled_at IS NULL`)).toHaveLength(0);
  });

  it('never purges a held file; released, the next run purges it first', async () => {
    await f.seed([
      { id: 'h1', key: 'held.pdf' },
      { id: 'n1', key: 'free.pdf' },
    ]);
    const engine = f.engine({ undoWindow: '7d' });
    await engine.run();
    const table = await inspectJobsTable(f.db.pool, DEFAULT_JOBS_TABLE);
    await placeHold(f.db.pool, table, { target: { fileKey: 'held.pdf' }, reason: 'litigation', by: 'legal' });
    await backdateTrash();
    expect(await purgeTrash(engine, { by: 'test' })).toMatchObject({ due: 1, purged: 1, held: 1 });
    const held = (await f.ledger(`job_id = 'h1' AND outcome = 'trashed'`))[0]!;
    expect(held.settled_at).toBeNull();
    expect(await f.files.exists(held.trash_location as string)).toBe(true);
    await releaseHolds(f.db.pool, { fileKey: 'held.pdf' }, 'legal');
    await engine.run();
    expect(await f.files.exists(held.trash_location as string)).toBe(false);
    expect(await f.ledger(`job_id = 'h1' AND outcome = 'purged'`)).toHaveLength(1);
  });

  it('restores a file erased without a window: says gone', async () => {
    await f.seed([{ id: 'x', key: 'x.pdf' }]);
    const engine = f.engine();
    const s = await engine.run();
    const erasedAt = ((await f.ledger())[0]!.erased_at as Date).toISOString();
    await expect(restoreFile(engine, { fileKey: 'x.pdf', by: 'x' })).rejects.toMatchObject({
      code: ErrorCodes.GONE,
      message: `file_key "x.pdf": gone: erased at ${erasedAt} by run ${s.run_id} with no undo window (nothing kept to restore)`,
    });
    await expect(restoreFile(engine, { fileKey: 'never.pdf', by: 'x' })).rejects.toMatchObject({ code: ErrorCodes.NOT_FOUND });
  });
});

/** Moves into the trash, then loses the answer: the state a crash between the move and the ledger write leaves. */
class LostTrashAnswers extends FileStorage {
  override async trashMany(items: readonly TrashRequest[], signal?: AbortSignal): Promise<KeyOutcome[]> {
    await super.trashMany(items, signal);
    throw new Error('worker died after the rename');
  }
}

describe('crash between the trash move and the ledger write', () => {
  it('keeps the rows, and the rerun finds the earlier trash copy, records it, and it restores', async () => {
    await f.seed([
      { id: 'k1', key: 'crash/1.pdf' },
      { id: 'k2', key: 'crash/2.pdf' },
    ]);
    const crashed = await f.engine({ undoWindow: '7d', storage: new LostTrashAnswers({ root: f.files.root }) }).run();
    expect(crashed).toMatchObject({ deleted_count: 0, failed_count: 2 });
    expect(await f.jobRow('k1')).not.toBeNull();
    expect(await f.files.exists('crash/1.pdf')).toBe(false);
    const rerun = await f.engine({ undoWindow: '7d' }).run();
    expect(rerun).toMatchObject({ deleted_count: 2, absent_count: 2, failed_count: 0 });
    const trashed = await f.ledger(`outcome = 'trashed'`);
    expect(trashed.map((r) => r.trash_location).sort()).toEqual([`.lethe/trash/${crashed.run_id}/crash/1.pdf`, `.lethe/trash/${crashed.run_id}/crash/2.pdf`]);
    expect(await f.ledger(`outcome IN ('erased', 'absent')`)).toHaveLength(0);
    const r = await restoreFile(f.engine(), { fileKey: 'crash/2.pdf', by: 'x' });
    expect(r.restored_job_ids).toEqual(['k2']);
    expect(await f.read('crash/2.pdf')).toBe('content of crash/2.pdf');
  });

  it('a restore that stopped after moving the file back is finished by the next restore', async () => {
    await f.seed([{ id: 'm', key: 'moved.pdf' }]);
    const engine = f.engine({ undoWindow: '7d' });
    await engine.run();
    const [t] = await f.ledger(`outcome = 'trashed'`);
    // The storage half of a restore, without its database half.
    expect(await new FileStorage({ root: f.files.root }).restoreFromTrash(t!.trash_location as string, 'moved.pdf')).toEqual({ outcome: 'restored' });
    const r = await restoreFile(engine, { fileKey: 'moved.pdf', by: 'x' });
    expect(r).toMatchObject({ resumed: true, restored_job_ids: ['m'] });
  });
});
