import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { ago, createCliFixture, type CliFixture } from '../cli/support/fixture.js';

/**
 * Operations (runbook FM-002 "check storage permissions", "check connectivity"): `lethe doctor` on real
 * Postgres and real files, and the cheap part of it that every run makes first.
 */
let f: CliFixture;
let bare: TestDatabase;

beforeAll(async () => {
  [f, bare] = await Promise.all([createCliFixture('ops_doctor'), createTestDatabase('ops_doctor_bare')]);
});
afterAll(async () => {
  await Promise.all([f.close(), bare.drop()]);
});

interface Check {
  name: string;
  status: string;
  message: string;
  details?: Record<string, any>;
}
interface Report {
  ok: boolean;
  version: string;
  storage: string;
  failed: number;
  checks: Check[];
}
const check = (r: Report, name: string): Check => r.checks.find((c) => c.name === name)!;

describe('lethe doctor', () => {
  it('passes on a migrated database and a writable root, leaves no probe behind, and says why in one line each', async () => {
    const [json, human] = await Promise.all([f.run(['doctor', '--json']), f.run(['doctor'])]);
    expect(json.code).toBe(0);
    const r = json.json<Report>();
    expect(r).toMatchObject({ ok: true, failed: 0, storage: `file://${f.root}` });
    expect(r.checks.map((c) => [c.name, c.status])).toEqual([
      ['database.reachable', 'ok'],
      ['database.migrations', 'ok'],
      ['database.jobs_table', 'ok'],
      ['database.index.purpose_created_at', 'ok'],
      ['database.index.file_key', 'ok'],
      ['database.key_guard', 'ok'],
      ['database.policies', 'ok'],
      ['clock', 'ok'],
      ['control', 'ok'],
      ['storage.reachable', 'ok'],
      ['storage.probe', 'ok'],
      ['storage.versioning', 'skip'],
      ['storage.symlinks', 'ok'],
      ['runs.failures', 'ok'],
      ['derived.coverage', 'ok'],
    ]);
    expect(check(r, 'clock').details).toMatchObject({ skew_ms: expect.any(Number), max_skew_ms: 5000 });
    expect(check(r, 'storage.probe').details!.steps.map((s: { step: string; ok: boolean }) => [s.step, s.ok])).toEqual([
      ['write', true],
      ['read', true],
      ['delete', true],
    ]);
    expect(await readdir(join(f.root, '.lethe', 'doctor'))).toEqual([]);
    expect(human.code).toBe(0);
    expect(human.lines[0]).toMatch(/^lethe doctor \S+ on \S+; storage file:\/\//);
    expect(human.stdout).toMatch(/\n {2}ok {4}database\.index\.file_key +lethe_jobs_file_key_idx on jobs \(file_key\)\n/);
    expect(human.lines.at(-1)).toBe('All checks passed.');
  });

  it('warns when the key guard trigger is missing (docs/safety.md#shared-keys), naming the fix', async () => {
    await f.db.pool.query('ALTER TABLE jobs DISABLE TRIGGER lethe_key_guard');
    try {
      const r = await f.run(['doctor', '--json']);
      expect(r.code).toBe(0);
      expect(check(r.json<Report>(), 'database.key_guard')).toMatchObject({
        status: 'warn',
        message: expect.stringMatching(/no enabled lethe_key_guard trigger on jobs: .*run `lethe migrate`/),
      });
    } finally {
      await f.db.pool.query('ALTER TABLE jobs ENABLE TRIGGER lethe_key_guard');
    }
  });

  it('fails (exit 1) on a missing or INVALID index on jobs, naming it and the fix', async () => {
    await f.db.pool.query('DROP INDEX lethe_jobs_file_key_idx');
    await f.db.pool.query(`UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'lethe_jobs_purpose_created_idx'::regclass`);
    try {
      const r = await f.run(['doctor', '--json']);
      expect(r.code).toBe(1);
      const report = r.json<Report>();
      expect(report).toMatchObject({ ok: false, failed: 2 });
      expect(check(report, 'database.index.file_key')).toMatchObject({
        status: 'fail',
        message: expect.stringMatching(/^no index on jobs \(file_key\): the shared-key guard .*run `lethe migrate`/),
      });
      expect(check(report, 'database.index.purpose_created_at')).toMatchObject({
        status: 'fail',
        message: expect.stringMatching(/lethe_jobs_purpose_created_idx on jobs \(purpose_code, created_at\) is INVALID/),
      });
      const human = await f.run(['doctor']);
      expect(human.lines.at(-1)).toBe('2 checks FAILED: a run would fail or misbehave until fixed.');
      expect(human.stdout).toMatch(/\n {2}FAIL {2}database\.index\.file_key/);
    } finally {
      await f.db.pool.query(`UPDATE pg_index SET indisvalid = true WHERE indexrelid = 'lethe_jobs_purpose_created_idx'::regclass`);
      await f.db.pool.query('CREATE INDEX lethe_jobs_file_key_idx ON jobs (file_key)');
    }
  });

  it('fails on an unreachable storage root, an unmigrated or unreachable database; a bad flag is exit 2', async () => {
    const [storage, unmigrated, unreachable, badFlag] = await Promise.all([
      f.run(['doctor', '--json', '--storage', `file://${f.root}/missing`]),
      f.run(['doctor', '--json'], { DATABASE_URL: bare.url }),
      f.run(['doctor', '--json'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere' }),
      f.run(['doctor', '--max-clock-skew', 'lots']),
    ]);
    expect(storage.code).toBe(1);
    const s = storage.json<Report>();
    expect(check(s, 'storage.reachable')).toMatchObject({ status: 'fail', message: expect.stringMatching(/storage root .*missing is not reachable: ENOENT/) });
    expect(check(s, 'storage.probe').status).toBe('skip');
    expect(unmigrated.code).toBe(1);
    const u = unmigrated.json<Report>();
    expect(check(u, 'database.migrations')).toMatchObject({
      status: 'fail',
      message: "Lethe's tables are missing in this database: run `lethe migrate` first",
    });
    expect(check(u, 'database.jobs_table').message).toMatch(/jobs table "jobs" was not found/);
    expect(unreachable.code).toBe(1);
    const d = unreachable.json<Report>();
    expect(check(d, 'database.reachable')).toMatchObject({ status: 'fail', message: expect.stringMatching(/ECONNREFUSED/) });
    expect(d.checks.filter((c) => c.name.startsWith('database.') && c.name !== 'database.reachable').every((c) => c.status === 'skip')).toBe(true);
    expect(check(d, 'storage.probe').status).toBe('ok');
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain('--max-clock-skew: expected a duration');
  });
});

describe('run preflight', () => {
  it('a run fails fast, before recording anything, when the storage root is gone or the database is not migrated', async () => {
    await f.insert([['p-1', 'p/1.pdf', 'System Testing', ago('2 days')]]);
    await f.touch('p/1.pdf');
    const [gone, unmigrated, dry] = await Promise.all([
      f.run(['run', '--json'], { LETHE_STORAGE: `file://${f.root}/missing` }),
      f.run(['run'], { DATABASE_URL: bare.url }),
      f.run(['run', '--dry-run', '--json'], { LETHE_STORAGE: `file://${f.root}/missing` }),
    ]);
    expect(gone.code, gone.stderr).toBe(1);
    expect(gone.stderr.trim()).toMatch(/^lethe: LETHE_E_STORAGE: storage root \S+missing is not reachable: ENOENT/);
    expect(gone.json()).toMatchObject({ error: { code: 'LETHE_E_STORAGE' } });
    expect(unmigrated.code).toBe(1);
    expect(unmigrated.stderr.trim()).toBe("lethe: LETHE_E_NOT_MIGRATED: Lethe's tables are missing in this database: run `lethe migrate` first");
    // A dry run touches no storage: it still works, and says what would go.
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json()).toMatchObject({ dry_run: true, would_delete_count: 1 });
    const { rows } = await f.db.pool.query(`SELECT count(*)::int AS n FROM lethe_runs WHERE NOT dry_run`);
    expect(rows[0].n).toBe(0);
    expect(await f.exists('p/1.pdf')).toBe(true);
  });
});
