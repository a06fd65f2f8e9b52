import { mkdir, mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_JOBS_TABLE, inspectJobsTable, pause, placeHold, resume } from '@lethe/engine';
import { ago, createCliFixture, DAY_MS, type CliFixture } from './support/fixture.js';

let f: CliFixture;
const LIVE = 40;

beforeAll(async () => {
  f = await createCliFixture('reconcile');
  // 40 healthy rows with their files (Financial: not expired), all older than the minimum age.
  await f.insert(Array.from({ length: LIVE }, (_, i) => [`live-${i}`, `r/live-${i}.pdf`, 'Financial', ago(`${2 + i} days`)] as const));
  for (let i = 0; i < LIVE; i++) await f.touch(`r/live-${i}.pdf`, 2 * DAY_MS);
  // Drift: an old file nobody refers to, an old row whose file is missing.
  await f.touch('r/orphan.pdf', 3 * DAY_MS);
  await f.insert([['orphan-row', 'r/missing.pdf', 'Financial', ago('5 days')]]);
  // In flight: a new file with no row yet, a new row whose file is not there yet. Never touched.
  await f.touch('r/uploading.pdf');
  await f.insert([['new-row', 'r/not-yet.pdf', 'Financial', ago('1 hour')]]);
});

afterAll(async () => {
  await f.close();
});

interface ReconcileJson {
  reconcile_id: string;
  status: string;
  refused_reason: string | null;
  apply: boolean;
  files: { checked: number; skipped: number; orphans: number; samples: { file_key: string }[]; held: number; held_samples: { file_key: string }[] };
  rows: {
    checked: number;
    orphans: number;
    samples: { job_id: string; file_key: string }[];
    held: number;
    held_samples: { job_id: string; file_key: string }[];
  };
  actions: { files_erased: number; files_failed: number; files_held: number; rows_removed: number; rows_held: number } | null;
}

const jobIds = async (): Promise<string[]> =>
  (await f.db.pool.query<{ id: string }>(`SELECT id FROM jobs WHERE id NOT LIKE 'live-%' ORDER BY id`)).rows.map((r) => r.id);

describe('lethe reconcile', () => {
  it('a dry run lists orphans older than the minimum age, changes nothing, exits 1', async () => {
    const r = await f.run(['reconcile', '--json']);
    expect(r.code).toBe(1);
    const rec = r.json<ReconcileJson>();
    expect(rec).toMatchObject({ status: 'dry_run', apply: false, actions: null });
    expect(rec.files).toMatchObject({ checked: LIVE + 1, skipped: 1, orphans: 1, samples: [{ file_key: 'r/orphan.pdf' }] });
    expect(rec.rows).toMatchObject({ checked: LIVE + 1, orphans: 1, samples: [{ job_id: 'orphan-row', file_key: 'r/missing.pdf' }] });
    expect(await f.exists('r/orphan.pdf')).toBe(true);
    expect(await jobIds()).toEqual(['new-row', 'orphan-row']);

    const human = await f.run(['reconcile']);
    expect(human.stdout).toMatch(/Orphan files: 1 of 42 files looked at \(2\.4%\); 1 newer than the minimum age left alone/);
    expect(human.stdout).toContain('  r/orphan.pdf (1 bytes, modified');
    expect(human.stdout).toMatch(/Orphan rows: +1 of 42 rows looked at \(2\.4%\); 1 newer than the minimum age/);
    expect(human.stdout).toContain('  row orphan-row: r/missing.pdf (Financial, created');
    expect(human.lines.at(-1)).toMatch(/^Dry run: nothing changed\. Re-run with --apply/);
  });

  it('refuses to act when too large a share looks orphaned (a wrong mount), and says why', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'lethe-empty-mount-'));
    try {
      const r = await f.run(['reconcile', '--apply', '--json'], { LETHE_STORAGE: `file://${empty}` });
      expect(r.code).toBe(1);
      const rec = r.json<ReconcileJson>();
      expect(rec.status).toBe('refused');
      expect(rec.rows.orphans).toBe(LIVE + 1);
      // The young row counts among the rows looked at (the share is over all of them).
      expect(rec.refused_reason).toContain(`${LIVE + 1} of ${LIVE + 2} rows`);
      expect(rec.refused_reason).toContain('is the storage mounted');
      expect(rec.actions).toBeNull();
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
    const strict = await f.run(['reconcile', '--apply', '--max-orphan-share', '1%']);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(/^REFUSED: more than 1% look orphaned/m);
    expect(await jobIds()).toEqual(['new-row', 'orphan-row']);
    expect(await f.exists('r/orphan.pdf')).toBe(true);
    const audit = await f.db.pool.query(`SELECT count(*)::int AS n FROM audit_logs WHERE action = 'cleanup_reconcile_refused'`);
    expect(audit.rows[0].n).toBe(2);
  });

  it('refuses --apply while paused', async () => {
    await pause(f.db.pool, { by: 'test', reason: 'incident' });
    const r = await f.run(['reconcile', '--apply']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/paused .*reconcile --apply deletes/);
    await resume(f.db.pool, { by: 'test' });
  });

  it('--apply removes the orphans only, recording each in the ledger and audit_logs; a rerun is clean', async () => {
    const r = await f.run(['reconcile', '--apply', '--by', 'bob', '--json']);
    expect(r.code).toBe(0);
    const rec = r.json<ReconcileJson>();
    expect(rec).toMatchObject({ status: 'applied', actions: { files_erased: 1, files_failed: 0, rows_removed: 1 } });
    expect(await f.exists('r/orphan.pdf')).toBe(false);
    expect(await f.exists('r/uploading.pdf')).toBe(true);
    expect(await f.exists('r/live-0.pdf')).toBe(true);
    expect(await jobIds()).toEqual(['new-row']);
    const ledger = await f.db.pool.query(
      `SELECT run_id::text, job_id, file_key, outcome, error_code, job_row IS NOT NULL AS has_row FROM lethe_ledger ORDER BY file_key`,
    );
    expect(ledger.rows).toEqual([
      { run_id: rec.reconcile_id, job_id: 'orphan-row', file_key: 'r/missing.pdf', outcome: 'absent', error_code: 'LETHE_RECONCILE_ORPHAN_ROW', has_row: true },
      { run_id: rec.reconcile_id, job_id: '', file_key: 'r/orphan.pdf', outcome: 'erased', error_code: 'LETHE_RECONCILE_ORPHAN_FILE', has_row: true },
    ]);
    const audit = await f.db.pool.query(`SELECT details FROM audit_logs WHERE action = 'cleanup_reconcile'`);
    expect(audit.rows).toMatchObject([
      { details: { by: 'bob', reconcile_id: rec.reconcile_id, status: 'applied', actions: { files_erased: 1, rows_removed: 1 } } },
    ]);

    const again = await f.run(['reconcile']);
    expect(again.code).toBe(0);
    expect(again.lines.at(-1)).toBe('Clean: storage and the jobs table agree.');
  });

  it('with HMAC ledger keys, records the keyed hash (no plain key) and finds ledger entries by it', async () => {
    const secret = { LETHE_LEDGER_KEY_SECRET: 'a-test-secret-of-32-bytes-length' };
    await f.touch('r/orphan-2.pdf', 3 * DAY_MS);
    await f.insert([['orphan-row-2', 'r/missing-2.pdf', 'Financial', ago('5 days')]]);
    const r = await f.run(['reconcile', '--apply', '--json'], secret);
    expect(r.code).toBe(0);
    expect(r.json<ReconcileJson>()).toMatchObject({ status: 'applied', actions: { files_erased: 1, rows_removed: 1 } });
    const ledger = await f.db.pool.query<{ file_key: string; job_row: Record<string, unknown> }>(
      `SELECT file_key, job_row FROM lethe_ledger WHERE run_id = $1 ORDER BY job_id`,
      [r.json<ReconcileJson>().reconcile_id],
    );
    expect(ledger.rows).toHaveLength(2);
    for (const row of ledger.rows) {
      expect(row.file_key).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
      expect(JSON.stringify(row.job_row)).not.toContain('missing-2');
    }
    // The same key back in storage: the hashed ledger entry still makes it known, not an orphan.
    await f.touch('r/orphan-2.pdf', 3 * DAY_MS);
    expect((await f.run(['reconcile', '--json'], secret)).json<ReconcileJson>()).toMatchObject({ status: 'clean' });
    expect((await f.run(['reconcile', '--json'])).json<ReconcileJson>().files).toMatchObject({ orphans: 1, samples: [{ file_key: 'r/orphan-2.pdf' }] });
  });

  it('rejects bad flags with exit 2', async () => {
    const age = await f.run(['reconcile', '--min-age', 'yesterday']);
    expect((await f.run(['reconcile', '--min-age', '-1d'])).code).toBe(2);
    expect(age.code).toBe(2);
    expect(age.stderr).toContain('--min-age: must be a positive duration');
    const share = await f.run(['reconcile', '--max-orphan-share', '150%']);
    expect(share.code).toBe(2);
    expect(share.stderr).toContain('--max-orphan-share: expected a percentage from 0 to 100');
  });
});

describe('lethe reconcile and legal holds', () => {
  let h: CliFixture;
  const hold = async (fileKey: string): Promise<void> => {
    await placeHold(h.db.pool, await inspectJobsTable(h.db.pool, DEFAULT_JOBS_TABLE), { target: { fileKey }, reason: 'litigation 42', by: 'legal' });
  };

  beforeAll(async () => {
    h = await createCliFixture('reconcile_holds');
    await h.insert(Array.from({ length: LIVE }, (_, i) => [`live-${i}`, `r/live-${i}.pdf`, 'Financial', ago(`${2 + i} days`)] as const));
    for (let i = 0; i < LIVE; i++) await h.touch(`r/live-${i}.pdf`, 2 * DAY_MS);
    // Orphan-looking, but held: a file with no row and no ledger entry, a row whose file is missing.
    await h.touch('r/held-file.pdf', 3 * DAY_MS);
    await h.insert([['held-row', 'r/held-missing.pdf', 'Financial', ago('5 days')]]);
    await hold('r/held-file.pdf');
    await hold('r/held-missing.pdf');
    // Real drift beside them.
    await h.touch('r/orphan.pdf', 3 * DAY_MS);
    await h.insert([['orphan-row', 'r/missing.pdf', 'Financial', ago('5 days')]]);
  });

  afterAll(async () => {
    await h.close();
  });

  it('reports held files and rows apart, never as orphans, and --apply leaves them (files, rows, no ledger entry)', async () => {
    const dry = await h.run(['reconcile', '--json']);
    expect(dry.code).toBe(1);
    const plan = dry.json<ReconcileJson>();
    expect(plan.files).toMatchObject({ orphans: 1, samples: [{ file_key: 'r/orphan.pdf' }], held: 1, held_samples: [{ file_key: 'r/held-file.pdf' }] });
    expect(plan.rows).toMatchObject({
      orphans: 1,
      samples: [{ job_id: 'orphan-row' }],
      held: 1,
      held_samples: [{ job_id: 'held-row', file_key: 'r/held-missing.pdf' }],
    });
    const human = await h.run(['reconcile']);
    expect(human.stdout).toMatch(/^Held \(legal hold, never touched\): 1 file with no row and no ledger entry, 1 row whose file is missing/m);
    expect(human.stdout).toContain('  held: r/held-file.pdf (1 bytes');
    expect(human.stdout).toContain('  held: row held-row: r/held-missing.pdf');

    const r = await h.run(['reconcile', '--apply', '--json']);
    expect(r.code).toBe(0);
    expect(r.json<ReconcileJson>()).toMatchObject({ status: 'applied', actions: { files_erased: 1, files_held: 1, rows_removed: 1, rows_held: 1 } });
    expect(await h.exists('r/held-file.pdf')).toBe(true);
    expect(await h.exists('r/orphan.pdf')).toBe(false);
    const rows = await h.db.pool.query<{ id: string }>(`SELECT id FROM jobs WHERE id NOT LIKE 'live-%' ORDER BY id`);
    expect(rows.rows.map((x) => x.id)).toEqual(['held-row']);
    const ledger = await h.db.pool.query<{ file_key: string }>(`SELECT file_key FROM lethe_ledger ORDER BY file_key`);
    expect(ledger.rows.map((x) => x.file_key)).toEqual(['r/missing.pdf', 'r/orphan.pdf']);
    const audit = await h.db.pool.query(`SELECT details FROM audit_logs WHERE action = 'cleanup_reconcile'`);
    expect(audit.rows).toMatchObject([{ details: { files: { held: 1 }, rows: { held: 1 }, actions: { files_held: 1, rows_held: 1 } } }]);

    const again = await h.run(['reconcile']);
    expect(again.code).toBe(0);
    expect(again.lines.at(-1)).toBe('Clean: storage and the jobs table agree, apart from the held files and rows above.');
  });
});

describe('lethe reconcile --prefix', () => {
  let p: CliFixture;
  let outside: string;

  beforeAll(async () => {
    p = await createCliFixture('reconcile_prefix');
    await p.touch('in/orphan.pdf', 3 * DAY_MS);
    // A directory beside the storage root with an old file no row knows: what `--prefix ../<it>` would reach.
    outside = await mkdtemp(join(dirname(p.root), 'lethe-outside-root-'));
    await mkdir(join(outside, 'docs'), { recursive: true });
    await writeFile(join(outside, 'docs', 'secret.pdf'), "not Lethe's");
    const old = new Date(Date.now() - 30 * DAY_MS);
    await utimes(join(outside, 'docs', 'secret.pdf'), old, old);
  });

  afterAll(async () => {
    await p.close();
    await rm(outside, { recursive: true, force: true });
  });

  it.each([
    [`../${'X'}`, '".." segments are not allowed'],
    ['/etc', 'must be relative, got an absolute path'],
    ['a//b', 'empty path segments'],
    ['./in', '"." segments are not allowed'],
    ['a\\b', 'backslashes are not allowed'],
  ])('refuses --prefix %j with exit 2, naming --prefix, listing and recording nothing', async (raw, why) => {
    const prefix = raw.replace('X', basename(outside));
    for (const args of [
      ['reconcile', '--prefix', prefix],
      ['reconcile', '--apply', '--max-orphan-share', '100%', '--prefix', prefix, '--json'],
    ]) {
      const r = await p.run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^lethe: LETHE_E_KEY_(OUTSIDE_ROOT|INVALID): --prefix: /);
      expect(r.stderr).toContain(why);
      expect(r.stderr).toContain(JSON.stringify(prefix));
    }
    expect(
      await stat(join(outside, 'docs', 'secret.pdf')).then(
        () => true,
        () => false,
      ),
    ).toBe(true);
    const ledger = await p.db.pool.query(`SELECT count(*)::int AS n FROM lethe_ledger`);
    expect(ledger.rows[0].n).toBe(0);
    const audit = await p.db.pool.query(`SELECT count(*)::int AS n FROM audit_logs WHERE action LIKE 'cleanup_reconcile%'`);
    expect(audit.rows[0].n).toBe(0);
  });

  it('a safe prefix (with or without a trailing slash) lists only under it', async () => {
    for (const prefix of ['in', 'in/']) {
      const r = await p.run(['reconcile', '--prefix', prefix, '--max-orphan-share', '100%', '--json']);
      expect(r.code).toBe(1);
      expect(r.json<ReconcileJson>().files).toMatchObject({ checked: 1, orphans: 1, samples: [{ file_key: 'in/orphan.pdf' }] });
    }
  });
});
