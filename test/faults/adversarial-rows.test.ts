import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, ErrorCodes, FileStorage, type Engine, type RunSummary } from '@lethe/engine';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { filesPresent, UTC_NOW } from './fixtures.js';
import { isLetheOwn } from '../support/files.js';

/**
 * Fault proof 4 (docs/safety.md#file-storage-keys-inside-the-root-and-the-residual-window): adversarial rows in the platform's `jobs` table, on real files through
 * the worker-pool storage. Every row below is one case; each says what must become of it:
 * - `erase`:  its file goes, its row goes (one erased/absent ledger row);
 * - `refuse`: never touched; row kept; reported in `refused` and the ledger with `code`;
 * - `fail`:   the store said no (ENAMETOOLONG, ELOOP): row kept; reported in `errors` with `code`;
 *             a failure, never a crash;
 * - `keep`:   not expired, unjudgeable, or its file still needed by another row: untouched.
 * Nothing outside the storage root may change: a directory next to the root holds victims that
 * the keys aim at, and is compared byte for byte before and after.
 *
 * NUL bytes: PostgreSQL `text` cannot hold U+0000 (the insert fails with SQLSTATE 22021), so no
 * row can carry one; the adapter refuses such a key anyway (checked directly below). A key holding
 * the *escape text* `\0` (a backslash, then 0) is a different, legal string: it is refused for
 * its backslash (an ambiguous separator), and its file is left alone.
 */
type Expect =
  | { readonly kind: 'erase' }
  | { readonly kind: 'refuse'; readonly code: string }
  | { readonly kind: 'fail'; readonly code: string }
  | { readonly kind: 'keep' };

interface Case {
  readonly id: string;
  readonly key: string | null;
  readonly purpose: string | null;
  /** SQL for created_at, or null. */
  readonly created: string | null;
  readonly expect: Expect;
  /** Create this key's file (when it can exist) so "untouched" means something. */
  readonly file?: boolean;
}

const OLD = `${UTC_NOW} - interval '40 days'`;
const RECENT = `${UTC_NOW} - interval '2 days'`;
const FUTURE = `${UTC_NOW} + interval '10 years'`;
const erase: Expect = { kind: 'erase' };
const keep: Expect = { kind: 'keep' };
const outside = (): Expect => ({ kind: 'refuse', code: ErrorCodes.KEY_OUTSIDE_ROOT });
const invalid = (): Expect => ({ kind: 'refuse', code: ErrorCodes.KEY_INVALID });

const NFC = 'unicode/caf\u00e9.pdf';
const NFD = 'unicode/cafe\u0301.pdf';
const LONG_KEY = `long/${Array.from({ length: 6 }, (_, i) => `${i}`.padEnd(200, 'x')).join('/')}.pdf`; // > 1024 bytes, every segment < 255
const LONG_SEGMENT = `long/${'b'.repeat(300)}.pdf`; // 300-byte file name
const LONG_DIR = `${'c'.repeat(300)}/f.pdf`; // 300-byte directory name
const LONG_MULTIBYTE = `long/${'\u20ac'.repeat(100)}.pdf`; // 100 characters, 300 bytes

let base: string;
let root: string;
let outsideDir: string;

function cases(): Case[] {
  return [
    // Paths that leave the root: refused before any I/O (lexical), or by the real-path check.
    { id: 'dotdot', key: '../victim.pdf', purpose: 'General', created: OLD, expect: outside() },
    { id: 'dotdot-inner', key: 'a/../../victim.pdf', purpose: 'General', created: OLD, expect: outside() },
    { id: 'dotdot-bare', key: '..', purpose: 'General', created: OLD, expect: outside() },
    { id: 'dotdot-outside', key: '../outside/victim.pdf', purpose: 'General', created: OLD, expect: outside() },
    { id: 'dot-lead', key: './plain/dot.pdf', purpose: 'General', created: OLD, expect: outside() },
    { id: 'dot-mid', key: 'plain/./dot.pdf', purpose: 'General', created: OLD, expect: outside() },
    { id: 'slashes', key: 'plain//dot.pdf', purpose: 'General', created: OLD, expect: invalid() },
    { id: 'trailing', key: 'plain/', purpose: 'General', created: OLD, expect: invalid() },
    { id: 'absolute', key: '@OUTSIDE@/victim.pdf', purpose: 'General', created: OLD, expect: outside() },
    { id: 'absolute-root', key: '@ROOT@/plain/dot.pdf', purpose: 'General', created: OLD, expect: outside() },
    { id: 'drive', key: 'C:/victim.pdf', purpose: 'General', created: OLD, expect: outside() },
    { id: 'backslash', key: '..\\victim.pdf', purpose: 'General', created: OLD, expect: outside() },
    { id: 'nul-escape-text', key: 'odd/a\\0b.pdf', purpose: 'General', created: OLD, expect: outside(), file: true },
    { id: 'symlink-dir', key: 'escape/victim.pdf', purpose: 'General', created: OLD, expect: outside() },
    { id: 'symlink-deep', key: 'nest/deeper/escape2/deep/victim.pdf', purpose: 'General', created: OLD, expect: outside() },
    { id: 'empty', key: '', purpose: 'General', created: OLD, expect: invalid() },
    { id: 'null-key', key: null, purpose: 'General', created: OLD, expect: invalid() },
    // Length: over 1024 bytes is refused (even though this file exists); a name over 255 bytes fails.
    { id: 'long-key', key: LONG_KEY, purpose: 'General', created: OLD, expect: invalid(), file: true },
    { id: 'long-segment', key: LONG_SEGMENT, purpose: 'General', created: OLD, expect: { kind: 'fail', code: 'ENAMETOOLONG' } },
    { id: 'long-dir', key: LONG_DIR, purpose: 'General', created: OLD, expect: { kind: 'fail', code: 'ENAMETOOLONG' } },
    { id: 'long-multibyte', key: LONG_MULTIBYTE, purpose: 'General', created: OLD, expect: { kind: 'fail', code: 'ENAMETOOLONG' } },
    { id: 'symlink-loop', key: 'loop/x.pdf', purpose: 'General', created: OLD, expect: { kind: 'fail', code: 'ELOOP' } },
    // A symlinked directory that stays inside the root is a path like any other.
    { id: 'symlink-inside', key: 'alias/inside.pdf', purpose: 'General', created: OLD, expect: erase, file: true },
    // Unicode: NFC and NFD spellings are different keys and different files; so is a zero-width space.
    { id: 'nfc-expired', key: NFC, purpose: 'General', created: OLD, expect: erase, file: true },
    { id: 'nfd-live', key: NFD, purpose: 'General', created: RECENT, expect: keep, file: true },
    { id: 'nfd-expired', key: 'unicode/re\u0301sume\u0301.pdf', purpose: 'General', created: OLD, expect: erase, file: true },
    { id: 'nfc-live', key: 'unicode/r\u00e9sum\u00e9.pdf', purpose: 'General', created: RECENT, expect: keep, file: true },
    { id: 'emoji', key: 'unicode/\u{1F4C4}-\u{1F600}.pdf', purpose: 'General', created: OLD, expect: erase, file: true },
    { id: 'zwsp', key: 'unicode/a\u200bb.pdf', purpose: 'General', created: OLD, expect: erase, file: true },
    { id: 'no-zwsp', key: 'unicode/ab.pdf', purpose: 'General', created: RECENT, expect: keep, file: true },
    { id: 'newline', key: 'odd/line\nbreak.pdf', purpose: 'General', created: OLD, expect: erase, file: true },
    // Purposes and timestamps no policy can judge: kept and reported, never deleted.
    { id: 'unknown-purpose', key: 'purpose/marketing.pdf', purpose: 'Marketing', created: OLD, expect: keep, file: true },
    { id: 'near-miss-case', key: 'purpose/lower.pdf', purpose: 'general', created: OLD, expect: keep, file: true },
    { id: 'near-miss-space', key: 'purpose/space.pdf', purpose: 'General ', created: OLD, expect: keep, file: true },
    { id: 'null-purpose', key: 'purpose/null.pdf', purpose: null, created: OLD, expect: keep, file: true },
    { id: 'null-created', key: 'purpose/null-created.pdf', purpose: 'General', created: null, expect: keep, file: true },
    { id: 'future-created', key: 'purpose/future.pdf', purpose: 'General', created: FUTURE, expect: keep, file: true },
    // Shared keys: the file goes only when no row that is not expired still refers to it.
    { id: 'dup-a', key: 'dup/both-expired.pdf', purpose: 'General', created: OLD, expect: erase, file: true },
    { id: 'dup-b', key: 'dup/both-expired.pdf', purpose: 'System Testing', created: `${UTC_NOW} - interval '3 days'`, expect: erase },
    ...(
      [
        ['live', 'General', RECENT],
        ['unknown', 'Marketing', OLD],
        ['nullpurpose', null, OLD],
        ['nullcreated', 'General', null],
        ['future', 'General', FUTURE],
      ] as const
    ).flatMap(([name, purpose, created]): Case[] => [
      { id: `shared-${name}-expired`, key: `dup/with-${name}.pdf`, purpose: 'General', created: OLD, expect: keep, file: true },
      { id: `shared-${name}-other`, key: `dup/with-${name}.pdf`, purpose, created, expect: keep },
    ]),
  ];
}

const resolveKey = (key: string | null): string | null => key?.replace('@OUTSIDE@', outsideDir).replace('@ROOT@', root) ?? null;

/** Every file under a directory with its content (to show nothing outside the root changed). */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && !isLetheOwn(join(e.parentPath, e.name))) out[join(e.parentPath, e.name)] = await readFile(join(e.parentPath, e.name), 'utf8');
  }
  return out;
}

let db: TestDatabase;
let engine: Engine;
const all = cases();

beforeAll(async () => {
  db = await createTestDatabase('fault_adversarial');
  await createJobsTable(db.pool);
  base = await mkdtemp(join(tmpdir(), 'lethe-adversarial-'));
  root = join(base, 'root');
  outsideDir = join(base, 'outside');
  await mkdir(join(outsideDir, 'deep'), { recursive: true });
  await mkdir(root);
  // Victims: where the escaping keys point.
  await writeFile(join(base, 'victim.pdf'), 'precious: next to the root');
  await writeFile(join(outsideDir, 'victim.pdf'), 'precious: outside');
  await writeFile(join(outsideDir, 'deep', 'victim.pdf'), 'precious: outside, deep');
  await writeFile(join(root, 'victim.pdf'), 'inside the root, but no row names it');
  await mkdir(join(root, 'plain'));
  await writeFile(join(root, 'plain', 'dot.pdf'), 'only named through . segments and an absolute path');
  await symlink(outsideDir, join(root, 'escape'));
  await mkdir(join(root, 'nest', 'deeper'), { recursive: true });
  await symlink(outsideDir, join(root, 'nest', 'deeper', 'escape2'));
  await mkdir(join(root, 'real'));
  await symlink(join(root, 'real'), join(root, 'alias'));
  await symlink('loop', join(root, 'loop'));
  await mkdir(join(root, 'long'));
  for (const c of all) {
    if (!c.file || c.key === null) continue;
    const path = join(root, c.key);
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, c.id);
  }
  for (const c of all) {
    await db.pool.query(`INSERT INTO jobs (id, file_key, purpose_code, created_at) VALUES ($1, $2, $3, ${c.created ?? 'NULL'})`, [
      c.id,
      resolveKey(c.key),
      c.purpose,
    ]);
  }
  engine = createEngine({ databaseUrl: db.url, storage: `file://${root}`, threads: 1, batchSize: 7 });
  await engine.migrate();
});

afterAll(async () => {
  await engine?.close();
  await db?.drop();
  await rm(base, { recursive: true, force: true });
});

describe('adversarial rows (fault proof 4)', () => {
  it('PostgreSQL text cannot hold a NUL byte, and the adapter refuses one anyway', async () => {
    await expect(
      db.pool.query(`INSERT INTO jobs (id, file_key, purpose_code, created_at) VALUES ('nul', $1, 'General', ${OLD})`, ['a\u0000b.pdf']),
    ).rejects.toMatchObject({ code: '22021' });
    const direct = new FileStorage({ root });
    expect(await direct.deleteMany(['a\u0000b.pdf', '\u0000'])).toMatchObject([
      { outcome: 'refused', code: ErrorCodes.KEY_INVALID },
      { outcome: 'refused', code: ErrorCodes.KEY_INVALID },
    ]);
  });

  it('erases exactly what may go, refuses or fails the rest with codes, touches nothing outside the root, and says the same on a rerun', async () => {
    const outsideBefore = await snapshot(base).then((s) => Object.fromEntries(Object.entries(s).filter(([p]) => !p.startsWith(`${root}/`))));
    const before = await filesPresent(root);
    const s = await engine.run();
    expect(s.status, JSON.stringify(s.error)).toBe('completed');

    const byId = new Map(all.map((c) => [c.id, c]));
    const idsOf = (kind: Expect['kind']): string[] =>
      all
        .filter((c) => c.expect.kind === kind)
        .map((c) => c.id)
        .sort();
    const codeOf = (c: Case): string => (c.expect.kind === 'refuse' || c.expect.kind === 'fail' ? c.expect.code : '');
    // Refusals and failures: reported with their codes, in the summary and in the ledger.
    expect(s.refused.map((r) => [r.job_id, r.code]).sort()).toEqual(idsOf('refuse').map((id) => [id, codeOf(byId.get(id)!)]));
    expect(s.errors.map((r) => [r.job_id, r.code]).sort()).toEqual(idsOf('fail').map((id) => [id, codeOf(byId.get(id)!)]));
    const ledger = await db.pool.query<{ job_id: string; outcome: string; error_code: string | null }>(
      `SELECT job_id, outcome, error_code FROM lethe_ledger WHERE run_id = $1 ORDER BY job_id`,
      [s.run_id],
    );
    const expectedLedger = all
      .filter((c) => c.expect.kind !== 'keep')
      .map((c) => ({
        job_id: c.id,
        outcome: c.expect.kind === 'erase' ? 'erased' : c.expect.kind === 'refuse' ? 'refused' : 'failed',
        error_code: codeOf(c) || null,
      }))
      .sort((a, b) => (a.job_id < b.job_id ? -1 : 1));
    // Two expired rows share dup/both-expired.pdf: whichever batch comes first erases it, the other finds it absent.
    const dupOutcomes = ledger.rows
      .filter((r) => r.job_id.startsWith('dup-'))
      .map((r) => r.outcome)
      .sort();
    expect(dupOutcomes).toEqual(['absent', 'erased']);
    expect(ledger.rows.map((r) => (r.job_id.startsWith('dup-') ? { ...r, outcome: 'erased' } : r))).toEqual(expectedLedger);
    expect(s).toMatchObject({
      erased_count: idsOf('erase').length - 1,
      absent_count: 1,
      refused_count: idsOf('refuse').length,
      failed_count: idsOf('fail').length,
      shared_count: 5,
    });

    // Rows: only the erased ones are gone.
    const rows = await db.pool.query<{ id: string }>(`SELECT id FROM jobs ORDER BY id`);
    expect(rows.rows.map((r) => r.id)).toEqual(
      all
        .filter((c) => c.expect.kind !== 'erase')
        .map((c) => c.id)
        .sort(),
    );
    // Files: exactly the erased ones are gone from the root (the inside symlink's target included).
    const erasedFiles = new Set(
      all.filter((c) => c.expect.kind === 'erase' && c.key !== null).map((c) => (c.key!.startsWith('alias/') ? c.key!.replace('alias/', 'real/') : c.key!)),
    );
    expect(await filesPresent(root)).toEqual(new Set([...before].filter((k) => !erasedFiles.has(k))));
    expect(await readFile(join(root, NFD), 'utf8'), 'the NFD spelling is another file').toBe('nfd-live');
    // Outside the root: byte for byte as before.
    const outsideAfter = await snapshot(base).then((x) => Object.fromEntries(Object.entries(x).filter(([p]) => !p.startsWith(`${root}/`))));
    expect(outsideAfter).toEqual(outsideBefore);

    // Unjudgeable rows are reported by purpose and reason.
    const unreadable = s.unreadable.map((u) => [u.purpose, u.reason, u.count]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(unreadable).toEqual(
      [
        ['General', 'null_created_at', 2],
        ['General ', 'unknown_purpose', 1],
        ['general', 'unknown_purpose', 1],
        ['Marketing', 'unknown_purpose', 2],
        [null, 'unknown_purpose', 2],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );

    // A rerun changes nothing and reports the same refusals and failures: stable, never a crash.
    const again: RunSummary = await engine.run();
    expect(again).toMatchObject({
      status: 'completed',
      erased_count: 0,
      absent_count: 0,
      refused_count: s.refused_count,
      failed_count: s.failed_count,
      shared_count: 5,
    });
    expect(await filesPresent(root)).toEqual(new Set([...before].filter((k) => !erasedFiles.has(k))));
  });
});
