import { link, lstat, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEngine, ErrorCodes, FileStorage, resume, TRASH_DIR, type KeyOutcome } from '@lethe/engine';
import { runDoctor } from '@lethe/engine/operations';
import { createJobsTable, createTestDatabase, insertJobs, type TestDatabase } from '../support/database.js';

/**
 * The file adapter against a tree that changes under it or lies about what a name erases:
 * a parent directory swapped for a symlink to outside the root between two keys of one batch, a
 * key whose file has another hard link, a key that is a symlink, and the doctor's warning about
 * symlinked directories (two keys, one file: the shared-key guard compares keys).
 */
const UTC_NOW = `(now() AT TIME ZONE 'UTC')`;
const RUN_ID = '00000000-0000-4000-8000-000000000001';
let db: TestDatabase;
let base: string;
let root: string;
let outside: string;

beforeAll(async () => {
  db = await createTestDatabase('fs_storage_lies');
  await createJobsTable(db.pool);
  const e = createEngine({ databaseUrl: db.url });
  await e.migrate();
  await e.close();
});
afterAll(async () => {
  await db.drop();
});
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'lethe-lies-'));
  root = join(base, 'root');
  outside = join(base, 'outside');
  await mkdir(root);
  await mkdir(outside);
  await db.pool.query('TRUNCATE jobs, lethe_runs, lethe_ledger');
  await resume(db.pool, { by: 'test' });
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

async function put(path: string, body: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, body);
}

/** root/d/0..n-1.pdf, and outside/ holding files of the same names (the victims of a swap). */
async function batchWithVictims(n: number): Promise<string[]> {
  const keys = Array.from({ length: n }, (_, i) => `d/${i}.pdf`);
  for (let i = 0; i < n; i++) {
    await put(join(root, 'd', `${i}.pdf`), `inside ${i}`);
    await put(join(outside, `${i}.pdf`), `precious ${i}`);
  }
  return keys;
}

/** Swaps root/d for a symlink to outside/ (the real directory moves to root/d-moved). */
async function swapForSymlink(): Promise<void> {
  await rename(join(root, 'd'), join(root, 'd-moved'));
  await symlink(outside, join(root, 'd'));
}

async function outsideFiles(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(outside)).sort()) out[name] = await readFile(join(outside, name), 'utf8');
  return out;
}

const victims = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${i}.pdf`, `precious ${i}`]).sort());

describe('a parent directory swapped for a symlink mid-batch', () => {
  it('deleteMany resolves every key: the keys after the swap are refused and nothing outside the root is deleted', async () => {
    const keys = await batchWithVictims(10);
    const storage = new FileStorage({ root, concurrency: 1, beforeKey: async (key) => (key === 'd/3.pdf' ? swapForSymlink() : undefined) });
    const out = await storage.deleteMany(keys);
    expect(out.slice(0, 3)).toEqual(keys.slice(0, 3).map((key) => ({ key, outcome: 'erased' })));
    for (const o of out.slice(3)) expect(o).toMatchObject({ outcome: 'refused', code: ErrorCodes.KEY_OUTSIDE_ROOT, retryable: false });
    expect(await outsideFiles()).toEqual(victims(10));
    expect((await readdir(join(root, 'd-moved'))).sort()).toEqual(['3.pdf', '4.pdf', '5.pdf', '6.pdf', '7.pdf', '8.pdf', '9.pdf']);
  });

  it('deleteMany: a directory moved out of the root mid-batch, a symlink to it left in its place, has its remaining files kept (refused)', async () => {
    const keys = Array.from({ length: 6 }, (_, i) => `d/${i}.pdf`);
    for (let i = 0; i < 6; i++) await put(join(root, 'd', `${i}.pdf`), `inside ${i}`);
    const moved = join(outside, 'd');
    const storage = new FileStorage({
      root,
      concurrency: 1,
      beforeKey: async (key) => {
        if (key !== 'd/2.pdf') return;
        await rename(join(root, 'd'), moved);
        await symlink(moved, join(root, 'd'));
      },
    });
    const out = await storage.deleteMany(keys);
    expect(out.slice(0, 2).map((o) => o.outcome)).toEqual(['erased', 'erased']);
    for (const o of out.slice(2)) expect(o).toMatchObject({ outcome: 'refused', code: ErrorCodes.KEY_OUTSIDE_ROOT, retryable: false });
    expect((await readdir(moved)).sort()).toEqual(['2.pdf', '3.pdf', '4.pdf', '5.pdf']);
  });

  it('trashMany resolves every key: nothing outside the root is moved into the trash', async () => {
    const keys = await batchWithVictims(6);
    const storage = new FileStorage({ root, concurrency: 1, beforeKey: async (key) => (key === 'd/2.pdf' ? swapForSymlink() : undefined) });
    const out = await storage.trashMany!(keys.map((key) => ({ key, trashKey: `${TRASH_DIR}/${RUN_ID}/${key}` })));
    expect(out.slice(0, 2).map((o) => o.outcome)).toEqual(['erased', 'erased']);
    for (const o of out.slice(2)) expect(o).toMatchObject({ outcome: 'refused', code: ErrorCodes.KEY_OUTSIDE_ROOT, retryable: false });
    expect(await outsideFiles()).toEqual(victims(6));
    expect((await readdir(join(root, TRASH_DIR, RUN_ID, 'd'))).sort()).toEqual(['0.pdf', '1.pdf']);
  });

  it('trashMany re-checks the trash directory per key: a trash directory swapped for a symlink mid-batch is refused, and no mkdir leads out', async () => {
    const keys = ['t/0.pdf', 't/1.pdf', 'u/2.pdf'];
    for (const k of keys) await put(join(root, k), k);
    await mkdir(join(outside, 't'));
    const trashRun = join(root, TRASH_DIR, RUN_ID);
    const storage = new FileStorage({
      root,
      concurrency: 1,
      beforeKey: async (key) => {
        if (key !== 't/1.pdf') return;
        await rename(trashRun, join(base, 'trash-moved'));
        await symlink(outside, trashRun);
      },
    });
    const out = await storage.trashMany!(keys.map((key) => ({ key, trashKey: `${TRASH_DIR}/${RUN_ID}/${key}` })));
    expect(out.map((o) => [o.outcome, o.code])).toEqual([
      ['erased', undefined],
      ['refused', ErrorCodes.KEY_OUTSIDE_ROOT],
      ['refused', ErrorCodes.KEY_OUTSIDE_ROOT],
    ]);
    expect(await readdir(outside)).toEqual(['t']);
    expect(await readdir(join(outside, 't'))).toEqual([]);
    expect(await readFile(join(root, 't/1.pdf'), 'utf8')).toBe('t/1.pdf');
    expect(await readFile(join(root, 'u/2.pdf'), 'utf8')).toBe('u/2.pdf');
  });
});

describe('a parent directory swapped for a symlink between batches (docs/safety.md#file-storage)', () => {
  it('the next batch checks its directories again: every key of it is refused and nothing outside the root is deleted', async () => {
    const keys = await batchWithVictims(8);
    const storage = new FileStorage({ root });
    const first = await storage.deleteMany(keys.slice(0, 4));
    expect(first).toEqual(keys.slice(0, 4).map((key) => ({ key, outcome: 'erased' })));
    await swapForSymlink();
    const second = await storage.deleteMany(keys.slice(4));
    for (const o of second) expect(o).toMatchObject({ outcome: 'refused', code: ErrorCodes.KEY_OUTSIDE_ROOT, retryable: false });
    expect(await outsideFiles()).toEqual(victims(8));
    expect((await readdir(join(root, 'd-moved'))).sort()).toEqual(['4.pdf', '5.pdf', '6.pdf', '7.pdf']);
  });

  it('a directory moved away and back between batches is checked again and used (same tree, same outcome)', async () => {
    const keys = await batchWithVictims(4);
    const storage = new FileStorage({ root });
    expect((await storage.deleteMany(keys.slice(0, 2))).map((o) => o.outcome)).toEqual(['erased', 'erased']);
    await rename(join(root, 'd'), join(root, 'd-moved'));
    await rename(join(root, 'd-moved'), join(root, 'd'));
    expect((await storage.deleteMany(keys.slice(2))).map((o) => o.outcome)).toEqual(['erased', 'erased']);
    expect(await readdir(join(root, 'd'))).toEqual([]);
    expect(await outsideFiles()).toEqual(victims(4));
  });

  it('a symlinked directory that stays inside the root still works; one leading out is refused (per-key path, as before)', async () => {
    await put(join(root, 'real', 'a.pdf'), 'a');
    await symlink(join(root, 'real'), join(root, 'alias'));
    await put(join(outside, 'b.pdf'), 'precious b');
    await symlink(outside, join(root, 'out'));
    const out = await new FileStorage({ root }).deleteMany(['alias/a.pdf', 'out/b.pdf']);
    expect(out.map((o) => [o.key, o.outcome, o.code ?? null])).toEqual([
      ['alias/a.pdf', 'erased', null],
      ['out/b.pdf', 'refused', ErrorCodes.KEY_OUTSIDE_ROOT],
    ]);
    expect(await readdir(join(root, 'real'))).toEqual([]);
    expect(await outsideFiles()).toEqual({ 'b.pdf': 'precious b' });
  });
});

describe('names whose unlink would not erase the data', () => {
  /** h/a.pdf + h/b.pdf: two names of one file; h/c.pdf: a second name of a file outside; s/link.pdf: a symlink. */
  async function linkedTree(): Promise<void> {
    await put(join(root, 'h', 'a.pdf'), 'two names');
    await link(join(root, 'h', 'a.pdf'), join(root, 'h', 'b.pdf'));
    await put(join(outside, 'keep.pdf'), 'outside, linked in');
    await link(join(outside, 'keep.pdf'), join(root, 'h', 'c.pdf'));
    await put(join(outside, 'target.pdf'), 'symlink target');
    await mkdir(join(root, 's'));
    await symlink(join(outside, 'target.pdf'), join(root, 's', 'link.pdf'));
    await put(join(root, 'plain.pdf'), 'one name');
  }

  async function linkedTreeIntact(): Promise<void> {
    expect(await readFile(join(root, 'h', 'a.pdf'), 'utf8')).toBe('two names');
    expect(await readFile(join(root, 'h', 'b.pdf'), 'utf8')).toBe('two names');
    expect(await readFile(join(root, 'h', 'c.pdf'), 'utf8')).toBe('outside, linked in');
    expect((await lstat(join(root, 's', 'link.pdf'))).isSymbolicLink()).toBe(true);
    expect(await outsideFiles()).toEqual({ 'keep.pdf': 'outside, linked in', 'target.pdf': 'symlink target' });
  }

  const expectRefusals = (out: KeyOutcome[]): void => {
    expect(out.map((o) => [o.key, o.outcome, o.code ?? null])).toEqual([
      ['h/a.pdf', 'refused', ErrorCodes.KEY_HARDLINKED],
      ['h/c.pdf', 'refused', ErrorCodes.KEY_HARDLINKED],
      ['s/link.pdf', 'refused', ErrorCodes.KEY_SYMLINK],
      ['plain.pdf', 'erased', null],
    ]);
    expect(out[0]!.message).toBe('file_key: the file has 2 links; erasing one name would not erase its data: remove the other links, then rerun');
    expect(out[2]!.message).toMatch(/^file_key: is a symbolic link; unlinking it would not erase the file it points to/);
    for (const o of out.slice(0, 3)) expect(o.retryable).toBe(false);
  };

  it('deleteMany refuses a hard-linked file and a symlink at the key, with their codes, and unlinks neither', async () => {
    await linkedTree();
    expectRefusals(await new FileStorage({ root }).deleteMany(['h/a.pdf', 'h/c.pdf', 's/link.pdf', 'plain.pdf']));
    await linkedTreeIntact();
  });

  it('trashMany refuses them too (a purge of such a copy would not erase the data)', async () => {
    await linkedTree();
    const keys = ['h/a.pdf', 'h/c.pdf', 's/link.pdf', 'plain.pdf'];
    expectRefusals(await new FileStorage({ root }).trashMany!(keys.map((key) => ({ key, trashKey: `${TRASH_DIR}/${RUN_ID}/${key}` }))));
    await linkedTreeIntact();
  });

  it('a run keeps their rows and reports them in summary.refused, then again on a rerun', async () => {
    await linkedTree();
    const old = `${UTC_NOW} - interval '40 days'`;
    await insertJobs(db.pool, [
      { id: 'hard', fileKey: 'h/a.pdf', purpose: 'General', createdAtSql: old },
      { id: 'hard-out', fileKey: 'h/c.pdf', purpose: 'General', createdAtSql: old },
      { id: 'sym', fileKey: 's/link.pdf', purpose: 'General', createdAtSql: old },
      { id: 'plain', fileKey: 'plain.pdf', purpose: 'General', createdAtSql: old },
    ]);
    const engine = createEngine({ databaseUrl: db.url, storage: `file://${root}`, threads: 1 });
    try {
      const s = await engine.run();
      expect(s).toMatchObject({ status: 'completed', erased_count: 1, refused_count: 3, failed_count: 0 });
      expect(s.refused.map((r) => [r.job_id, r.code]).sort()).toEqual([
        ['hard', ErrorCodes.KEY_HARDLINKED],
        ['hard-out', ErrorCodes.KEY_HARDLINKED],
        ['sym', ErrorCodes.KEY_SYMLINK],
      ]);
      expect(s.refused.find((r) => r.job_id === 'hard')!.message).toMatch(/the file has 2 links/);
      const rows = await db.pool.query<{ id: string }>('SELECT id FROM jobs ORDER BY id');
      expect(rows.rows.map((r) => r.id)).toEqual(['hard', 'hard-out', 'sym']);
      await linkedTreeIntact();
      const again = await engine.run();
      expect(again).toMatchObject({ status: 'completed', erased_count: 0, refused_count: 3 });
      await linkedTreeIntact();
    } finally {
      await engine.close();
    }
  });
});

describe('lethe doctor on a root with symlinked directories', () => {
  it('warns (not fails), naming the first symlinks; says when the walk was bounded; silent on a plain tree', async () => {
    await put(join(root, 'real', 'x.pdf'), 'x');
    await put(join(root, '.lethe', 'trash', 'r', 'y.pdf'), 'y');
    await symlink(join(root, '.lethe'), join(root, '.lethe', 'loop'));
    const engine = createEngine({ databaseUrl: db.url, storage: `file://${root}`, threads: 1 });
    try {
      const plain = await runDoctor(engine);
      expect(plain.checks.find((c) => c.name === 'storage.symlinks')).toMatchObject({
        status: 'ok',
        message: expect.stringMatching(/^no symlinked directories under the root/),
      });

      await symlink(join(root, 'real'), join(root, 'alias'));
      await mkdir(join(root, 'deep', 'er'), { recursive: true });
      await symlink(outside, join(root, 'deep', 'er', 'escape'));
      await symlink(join(root, 'real', 'x.pdf'), join(root, 'file-link.pdf'));
      const r = await runDoctor(engine);
      const c = r.checks.find((x) => x.name === 'storage.symlinks')!;
      expect(c.status).toBe('warn');
      expect(c.message).toMatch(/^2 symlinked directories under the root: /);
      expect(c.message).toContain(`alias -> ${join(root, 'real')}`);
      expect(c.message).toContain(`deep/er/escape -> ${outside}`);
      expect(c.message).toMatch(/shared-key guard cannot see/);
      expect(c.message).not.toContain('.lethe');
      expect(r.checks.filter((x) => x.status === 'fail').map((x) => x.name)).not.toContain('storage.symlinks');

      const bounded = await runDoctor(engine, { maxStorageWalkEntries: 2 });
      expect(bounded.checks.find((x) => x.name === 'storage.symlinks')!.message).toMatch(/\(walk stopped after 2 entries\)/);
    } finally {
      await engine.close();
    }
  });
});
