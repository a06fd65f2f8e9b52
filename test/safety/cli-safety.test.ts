import { readFile, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../support/cli.js';
import { createSafetyFixture, type SafetyFixture } from './fixture.js';
import { appendLedgerBatch, resetLedgerChain } from '../support/ledger.js';

/**
 * The safety commands as operators run them: the built CLI (`pnpm build` first), spawned with a
 * minimal environment, on real Postgres and a real storage root.
 */
let f: SafetyFixture;

beforeAll(async () => {
  f = await createSafetyFixture('cli');
});
afterAll(async () => {
  await f.close();
});
beforeEach(async () => {
  await f.reset();
});

async function lethe(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  const r = await runCli(args, { DATABASE_URL: f.db.url, LETHE_STORAGE: `file://${f.files.root}`, USER: 'oncall', LETHE_LOG_LEVEL: 'warn', ...env });
  // A command killed from outside says so, rather than failing an exit-code check with `null`.
  if (r.signal !== null) throw new Error(`lethe ${args.join(' ')} was killed by ${r.signal}; stderr: ${r.stderr}`);
  return r;
}

const json = <T = Record<string, unknown>>(r: CliResult): T => JSON.parse(r.stdout) as T;

/** A file put back as a backup restore does: with its old modification time (before it was erased). */
async function restoreFromBackup(key: string, content: string): Promise<void> {
  await f.files.put(key, content);
  const when = new Date(Date.now() - 40 * 86_400_000);
  await utimes(join(f.files.root, key), when, when);
}
const oneLine = (s: string): string[] => s.split('\n').filter((l) => l !== '');

describe('lethe restore and purge', () => {
  it('restores within the window, says gone after the purge (exit 1, one line)', async () => {
    await f.seed([{ id: 'r1', key: 'inv/1.pdf', body: 'invoice 1' }]);
    const run = await lethe(['run', '--json'], { LETHE_UNDO_WINDOW: '7d' });
    expect(run.code).toBe(0);
    expect(json(run)).toMatchObject({ deleted_count: 1 });
    expect(await f.files.exists('inv/1.pdf')).toBe(false);

    const restored = await lethe(['restore', 'inv/1.pdf', '--by', 'ticket-42']);
    expect(restored.code).toBe(0);
    expect(restored.stdout).toMatch(/^RESTORED inv\/1\.pdf from \.lethe\/trash\//);
    expect(restored.stdout).toMatch(/WARNING: rows r1 are still expired/);
    expect(await f.read('inv/1.pdf')).toBe('invoice 1');
    expect(await f.jobRow('r1')).toMatchObject({ id: 'r1', file_key: 'inv/1.pdf' });

    // Trashed again, then purged past the window: restore says the file is gone.
    expect((await lethe(['run', '--json'], { LETHE_UNDO_WINDOW: '7d' })).code).toBe(0);
    expect(json(await lethe(['purge', '--dry-run', '--json']))).toMatchObject({ due: 0 });
    await f.db.pool.query(`UPDATE lethe_ledger SET purge_after = now() - interval '1 second' WHERE outcome = 'trashed' AND settled_at IS NULL`);
    const purge = await lethe(['purge', '--json']);
    expect(purge.code).toBe(0);
    expect(json(purge)).toMatchObject({ purged: 1, files_deleted: 1, failed: 0 });
    const gone = await lethe(['restore', 'inv/1.pdf']);
    expect(gone.code).toBe(1);
    expect(oneLine(gone.stderr)).toEqual([
      expect.stringMatching(/^lethe: LETHE_E_GONE: file_key "inv\/1\.pdf": gone: its undo window ended and the trash copy was purged at /),
    ]);
  });

  it('bad input exits 2 naming the field', async () => {
    const empty = await lethe(['restore', '']);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/file_key: expected a non-empty file key/);
    const badWindow = await lethe(['run'], { LETHE_UNDO_WINDOW: 'soon' });
    expect(badWindow.code).toBe(2);
    expect(badWindow.stderr).toMatch(/undoWindow: must be a positive duration/);
  });
});

describe('lethe hold, unhold, holds', () => {
  it('holds by key and by job id, lists, releases; a held file survives a run', async () => {
    await f.seed([
      { id: 'h1', key: 'held/1.pdf' },
      { id: 'h2', key: 'held/2.pdf' },
      { id: 'h3', key: 'free.pdf' },
    ]);
    expect((await lethe(['hold', 'held/1.pdf', '--reason', 'litigation 42', '--until', '2099-01-31', '--by', 'legal'])).code).toBe(0);
    const byJob = await lethe(['hold', '--job', 'h2', '--reason', 'regulator', '--json']);
    expect(byJob.code).toBe(0);
    expect(json(byJob)).toMatchObject({ fileKey: 'held/2.pdf', jobId: 'h2', reason: 'regulator' });
    const list = json<{ fileKey: string; until: string | null }[]>(await lethe(['holds', '--json']));
    expect(list.map((h) => h.fileKey).sort()).toEqual(['held/1.pdf', 'held/2.pdf']);
    expect(list.find((h) => h.fileKey === 'held/1.pdf')!.until).toBe('2099-01-31T00:00:00.000Z');
    expect(json(await lethe(['run', '--json']))).toMatchObject({ deleted_count: 1, held_count: 2 });
    expect(await f.files.exists('held/1.pdf')).toBe(true);
    const unhold = await lethe(['unhold', 'held/1.pdf']);
    expect(unhold.code).toBe(0);
    expect(unhold.stdout).toBe('RELEASED 1 hold on held/1.pdf\n');
    expect((await lethe(['unhold', 'held/1.pdf'])).code).toBe(1);
    expect((await lethe(['holds'])).stdout).toMatch(/held\/2\.pdf/);
  });

  it('refuses bad input with exit 2: no reason, a date that does not exist, a past date, both key and --job', async () => {
    const noReason = await lethe(['hold', 'k.pdf']);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/--reason/);
    const badDate = await lethe(['hold', 'k.pdf', '--reason', 'x', '--until', '2027-02-30']);
    expect(badDate.code).toBe(2);
    expect(oneLine(badDate.stderr)).toEqual(['lethe: LETHE_E_CONFIG: --until: expected a date like 2027-01-31 (or an ISO time), got "2027-02-30"']);
    const past = await lethe(['hold', 'k.pdf', '--reason', 'x', '--until', '2001-01-01']);
    expect(past.code).toBe(2);
    expect(past.stderr).toMatch(/--until: must be in the future/);
    const both = await lethe(['hold', 'k.pdf', '--job', '1', '--reason', 'x']);
    expect(both.code).toBe(2);
    expect((await f.db.pool.query('SELECT 1 FROM lethe_holds')).rowCount).toBe(0);
  });
});

describe('lethe verify-ledger', () => {
  it('exits 1 on a file recorded erased that is back, 0 after --repair', async () => {
    await f.seed([
      { id: 'v1', key: 'v/1.pdf' },
      { id: 'v2', key: 'v/2.pdf' },
    ]);
    expect((await lethe(['run'])).code).toBe(0);
    expect((await lethe(['verify-ledger'])).code).toBe(0);
    await restoreFromBackup('v/2.pdf', 'from a backup');
    const found = await lethe(['verify-ledger', '--all']);
    expect(found.code).toBe(1);
    expect(found.stdout).toMatch(/1 file recorded as erased still in storage/);
    expect(found.stdout).toMatch(/FAIL: 1 file recorded as erased still exist/);
    const repaired = await lethe(['verify-ledger', '--sample', '50', '--repair', '--json']);
    expect(repaired.code).toBe(0);
    expect(json(repaired)).toMatchObject({ present: 1, repaired: 1, unresolved: 0 });
    expect(await f.files.exists('v/2.pdf')).toBe(false);
    expect((await lethe(['verify-ledger', '--sample', '0'])).code).toBe(2);
    // The same check as `lethe verify --ledger`.
    await restoreFromBackup('v/1.pdf', 'back again');
    expect((await lethe(['verify', '--ledger', '--all'])).code).toBe(1);
    expect(json(await lethe(['verify', '--ledger', '--repair', '--json']))).toMatchObject({ repaired: 1, unresolved: 0 });
    expect((await lethe(['verify', '--repair'])).code).toBe(2);
  });

  it('--repair never deletes a new upload at a key erased earlier: NEWER OBJECT, exit 1, says what to do', async () => {
    await f.seed([{ id: 'u1', key: 'u/1.pdf' }]);
    expect((await lethe(['run'])).code).toBe(0);
    await f.files.put('u/1.pdf', 'a brand-new upload, its row not in yet');
    const human = await lethe(['verify', '--ledger', '--all', '--repair']);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/^1 file recorded as erased still in storage \(1 newer than the erasure: never repaired\):$/m);
    expect(human.stdout).toMatch(/^  u\/1\.pdf NEWER OBJECT: .* -> skipped_newer$/m);
    expect(human.stdout).toMatch(
      /^NEWER OBJECT: 1 file at a key Lethe erased was modified after the erasure began: not the erased file, so --repair never deletes it\. .*give it its jobs row/m,
    );
    expect(human.stdout).not.toMatch(/run with --repair/);
    const r = await lethe(['verify-ledger', '--all', '--repair', '--json']);
    expect(r.code).toBe(1);
    expect(json(r)).toMatchObject({
      present: 1,
      newer_objects: 1,
      repaired: 0,
      unresolved: 1,
      findings: [{ file_key: 'u/1.pdf', kind: 'newer_object', repair: 'skipped_newer' }],
    });
    expect(await readFile(join(f.files.root, 'u/1.pdf'), 'utf8')).toBe('a brand-new upload, its row not in yet');
  });

  it('with LETHE_LEDGER_KEY_SECRET, lookup by key still finds the erasure', async () => {
    const env = { LETHE_LEDGER_KEY_SECRET: 'sixteen-bytes-or-more-secret' };
    await f.seed([{ id: 'p1', key: 'pan/meera.pdf' }]);
    expect((await lethe(['run'], env)).code).toBe(0);
    expect((await f.ledger())[0]!.file_key).toMatch(/^hmac-sha256:/);
    const look = await lethe(['lookup', 'pan/meera.pdf', '--json'], env);
    expect(look.code).toBe(0);
    expect(json(look)).toMatchObject({ state: 'erased', ledger: [{ job_id: 'p1', outcome: 'erased' }] });
  });
});

describe('lethe prune', () => {
  it('refuses anything younger than a year, counts without --confirm, and deletes only old rows Lethe wrote', async () => {
    for (const d of ['6 months', '360d', '11mo']) {
      const r = await lethe(['prune', '--older-than', d]);
      expect(r.code).toBe(2);
      expect(oneLine(r.stderr)).toEqual([
        `lethe: LETHE_E_EVIDENCE_TOO_YOUNG: --older-than: evidence younger than one year is never pruned (DPDP Rules 2025, rules 6(1)(e) and 8(3)); got ${JSON.stringify(d)}, use at least "1y"`,
      ]);
    }
    await f.db.pool.query(`INSERT INTO audit_logs ("timestamp", action, details) VALUES
      (now() - interval '3 years', 'user_login', '{"user": "ravi"}'),
      (now() - interval '3 years', 'cleanup_expired_jobs', '{"deleted_count": 5}'),
      (now() - interval '3 years', 'cleanup_expired_jobs', '{"source": "lethe", "deleted_count": 7}'),
      (now() - interval '2 years', 'cleanup_paused', '{"source": "lethe"}'),
      (now() - interval '6 months', 'cleanup_expired_jobs', '{"source": "lethe", "deleted_count": 1}')`);
    // Two ledger batches as Lethe writes them (the hash chain's first two): prune removes whole batches from the chain's start.
    await resetLedgerChain(f.db.pool);
    await appendLedgerBatch(f.db.pool, [{ jobId: 'old', fileKey: 'old.pdf', outcome: 'erased', erasedAtSql: `now() - interval '3 years'` }]);
    await appendLedgerBatch(f.db.pool, [{ jobId: 'young', fileKey: 'young.pdf', outcome: 'erased', erasedAtSql: `now() - interval '2 months'` }]);
    const dry = await lethe(['prune', '--older-than', '1y', '--json']);
    expect(dry.code).toBe(0);
    expect(json(dry)).toMatchObject({ dry_run: true, audit_rows: 2, ledger_rows: 1 });
    expect((await f.db.pool.query('SELECT 1 FROM audit_logs')).rowCount).toBe(5);
    const done = await lethe(['prune', '--older-than', '1y', '--confirm', '--by', 'dpo']);
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(/^Deleted 2 of Lethe's audit_logs rows and 1 ledger rows older than 1 year/);
    const left = await f.db.pool.query<{ action: string; details: Record<string, unknown> }>(`SELECT action, details FROM audit_logs ORDER BY "timestamp"`);
    expect(left.rows.map((r) => r.details)).toEqual([
      { user: 'ravi' },
      { deleted_count: 5 },
      { source: 'lethe', deleted_count: 1 },
      expect.objectContaining({ source: 'lethe', by: 'dpo', audit_rows: 2, ledger_rows: 1 }),
    ]);
    expect(left.rows[3]!.action).toBe('cleanup_evidence_pruned');
    expect((await f.ledger()).map((r) => r.job_id)).toEqual(['young']);
  });
});
