import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listHolds } from '@lethe/engine';
import { ago, createCliFixture, type CliFixture } from '../cli/support/fixture.js';

/**
 * Operations (runbook EMERGENCY-002 past the undo window): `lethe restore <file_key> --from <backup>`
 * on real Postgres and files: the file comes back byte for byte, its row is recreated from the
 * ledger, the key is held so the next run keeps it, and it is all recorded.
 */
let f: CliFixture;
let backup: string;

async function put(root: string, key: string, content: string): Promise<void> {
  await mkdir(dirname(join(root, key)), { recursive: true });
  await writeFile(join(root, key), content);
}

beforeAll(async () => {
  f = await createCliFixture('ops_restore');
  backup = await mkdtemp(join(tmpdir(), 'lethe-backup-'));
  const rows: [string, string, string, string][] = [
    ['rb-1', 'docs/inv-1.pdf', 'General', ago('40 days')],
    ['rb-2', 'docs/inv-2.pdf', 'General', ago('41 days')],
    ['rb-3', 'docs/inv-3.pdf', 'General', ago('42 days')],
    ['rb-4', 'docs/inv-4.pdf', 'General', ago('43 days')],
  ];
  await f.insert(rows);
  for (const [id, key] of rows) await put(f.root, key, `invoice ${id} bytes`);
  for (const [id, key] of rows.filter((r) => r[0] !== 'rb-2')) await put(backup, key, `invoice ${id} bytes`);
  const run = await f.run(['run', '--json']);
  expect(run.json()).toMatchObject({ deleted_count: 4 });
});
afterAll(async () => {
  await f.close();
  await rm(backup, { recursive: true, force: true });
});

interface Restored {
  restore_id: string;
  file_key: string;
  from: string;
  bytes: number;
  erased_by_run: string;
  restored_job_ids: string[];
  rebuilt_from_columns_job_ids: string[];
  still_expired_job_ids: string[];
  hold_id: string;
  resumed: boolean;
}

describe('lethe restore --from <backup>', () => {
  it('copies the file back, recreates the row from the ledger, holds the key; the next run keeps it', async () => {
    const before = await f.db.pool.query(`SELECT job_row FROM lethe_ledger WHERE file_key = 'docs/inv-1.pdf'`);
    const r = await f.run(['restore', 'docs/inv-1.pdf', '--from', backup, '--by', 'oncall', '--json']);
    expect(r.code).toBe(0);
    const out = r.json<Restored>();
    expect(out).toMatchObject({
      file_key: 'docs/inv-1.pdf',
      from: backup,
      bytes: 'invoice rb-1 bytes'.length,
      restored_job_ids: ['rb-1'],
      rebuilt_from_columns_job_ids: [],
      still_expired_job_ids: ['rb-1'],
      resumed: false,
    });
    expect(await readFile(join(f.root, 'docs/inv-1.pdf'), 'utf8')).toBe('invoice rb-1 bytes');
    const row = await f.db.pool.query(`SELECT to_jsonb(j) AS r FROM jobs j WHERE id = 'rb-1'`);
    expect(row.rows[0].r).toEqual(before.rows[0].job_row);
    expect(await listHolds(f.db.pool, { fileKey: 'docs/inv-1.pdf' })).toMatchObject([
      { id: out.hold_id, createdBy: 'oncall', reason: expect.stringContaining(`restored from backup ${backup}`) },
    ]);
    const audit = await f.db.pool.query(`SELECT details FROM audit_logs WHERE action = 'cleanup_restored_from_backup'`);
    expect(audit.rows).toMatchObject([
      { details: { restore_id: out.restore_id, file_key: 'docs/inv-1.pdf', by: 'oncall', from: backup, restored_job_ids: ['rb-1'], source: 'lethe' } },
    ]);
    const ledger = await f.db.pool.query(`SELECT outcome, run_id::text FROM lethe_ledger WHERE file_key = 'docs/inv-1.pdf' ORDER BY id`);
    expect(ledger.rows).toEqual([
      { outcome: 'erased', run_id: out.erased_by_run },
      { outcome: 'restored', run_id: out.restore_id },
    ]);

    const next = await f.run(['run', '--json']);
    expect(next.json()).toMatchObject({ status: 'completed', held_count: 1, held_files: ['docs/inv-1.pdf'], deleted_count: 0 });
    expect(await f.exists('docs/inv-1.pdf')).toBe(true);
    const human = await f.run(['restore', 'docs/inv-1.pdf', '--from', backup]);
    expect(human.code).toBe(1);
    expect(human.stderr).toContain('a file is already at this key');
    expect(human.stderr).toContain('rows refer to it (restored already?); nothing was overwritten');
  });

  it('finishes an interrupted restore, and rebuilds a row from the ledger columns when a purge dropped its copy', async () => {
    await put(f.root, 'docs/inv-3.pdf', 'invoice rb-3 bytes'); // the copy of an interrupted restore
    await f.db.pool.query(`UPDATE lethe_ledger SET job_row = NULL WHERE file_key = 'docs/inv-4.pdf'`);
    const [resumed, rebuilt] = await Promise.all([
      f.run(['restore', 'docs/inv-3.pdf', '--from', `file://${backup}`, '--json', '--wait', '20']),
      f.run(['restore', 'docs/inv-4.pdf', '--from', backup, '--hold', 'INC-4711 review', '--wait', '20']),
    ]);
    expect(resumed.code).toBe(0);
    expect(resumed.json<Restored>()).toMatchObject({ resumed: true, restored_job_ids: ['rb-3'] });
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.stdout).toMatch(/^RESTORED docs\/inv-4\.pdf from the backup /);
    expect(rebuilt.stdout).toContain("rows rb-4 were rebuilt from the ledger's columns only");
    expect(rebuilt.stdout).toMatch(/legal hold \d+ placed on the key/);
    const row = await f.db.pool.query(
      `SELECT file_key, purpose_code, created_at < (now() AT TIME ZONE 'UTC') - interval '42 days' AS old FROM jobs WHERE id = 'rb-4'`,
    );
    expect(row.rows).toEqual([{ file_key: 'docs/inv-4.pdf', purpose_code: 'General', old: true }]);
    expect(await listHolds(f.db.pool, { fileKey: 'docs/inv-4.pdf' })).toMatchObject([{ reason: 'INC-4711 review' }]);
  });

  it('says what is wrong: not in the backup or never erased (exit 1), a bad location or key (exit 2)', async () => {
    const [notInBackup, neverErased, badFrom, badKey] = await Promise.all([
      f.run(['restore', 'docs/inv-2.pdf', '--from', backup, '--wait', '20']),
      f.run(['restore', 'docs/never.pdf', '--from', backup, '--wait', '20']),
      f.run(['restore', 'docs/inv-2.pdf', '--from', 'ftp://backups/x']),
      f.run(['restore', '../etc/passwd', '--from', backup]),
    ]);
    expect(notInBackup.code).toBe(1);
    expect(notInBackup.stderr).toMatch(/file_key "docs\/inv-2\.pdf": the backup file:\/\/\S+ has no such file/);
    expect(await f.exists('docs/inv-2.pdf')).toBe(false);
    expect(neverErased.code).toBe(1);
    expect(neverErased.stderr).toContain('file_key "docs/never.pdf": Lethe has no record of erasing it');
    expect(badFrom.code).toBe(2);
    expect(badFrom.stderr).toContain('from: unsupported scheme "ftp:"');
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toContain('file_key: ".." segments are not allowed');
    expect((await f.db.pool.query(`SELECT count(*)::int AS n FROM jobs WHERE id = 'rb-2'`)).rows[0].n).toBe(0);
  });
});
