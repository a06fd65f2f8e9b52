import { readFile, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_JOBS_TABLE, inspectJobsTable, placeHold } from '@lethe/engine';
import { repairFindings, verifyLedger } from '@lethe/engine/operations';
import { createSafetyFixture, type SafetyFixture } from './fixture.js';

let f: SafetyFixture;

/** A file put back as a backup restore does: with its old modification time (before it was erased). */
async function restoreFromBackup(key: string, content: string): Promise<void> {
  await f.files.put(key, content);
  await setModified(key, new Date(Date.now() - 40 * 86_400_000));
}

async function setModified(key: string, when: Date): Promise<void> {
  await utimes(join(f.files.root, key), when, when);
}

const hold = async (fileKey: string): Promise<void> => {
  await placeHold(f.db.pool, await inspectJobsTable(f.db.pool, DEFAULT_JOBS_TABLE), { target: { fileKey }, reason: 'litigation', by: 'legal' });
};

beforeAll(async () => {
  f = await createSafetyFixture('lverify');
});
afterAll(async () => {
  await f.close();
});
beforeEach(async () => {
  await f.reset();
});

describe('ledger verification (verify --ledger)', () => {
  it('finds a file recorded as erased that came back (a backup restore), repairs it as reerased, and then finds nothing', async () => {
    await f.seed(Array.from({ length: 30 }, (_, i) => ({ id: `r${i}`, key: `docs/${i}.pdf` })));
    const engine = f.engine();
    expect(await engine.run()).toMatchObject({ deleted_count: 30 });
    expect(await verifyLedger(engine, { sample: 1000 })).toMatchObject({ mode: 'sample', rows_checked: 30, keys_checked: 30, present: 0, unresolved: 0 });

    await restoreFromBackup('docs/7.pdf', "restored from last week's backup");
    const found = await verifyLedger(engine, { all: true });
    expect(found).toMatchObject({ mode: 'all', rows_checked: 30, present: 1, repaired: 0, unresolved: 1 });
    expect(found.findings).toMatchObject([{ file_key: 'docs/7.pdf', job_id: 'r7', outcome: 'erased', held: false, kind: 'present' }]);
    expect(await f.files.exists('docs/7.pdf')).toBe(true);

    const repaired = await verifyLedger(engine, { all: true, repair: true, by: 'oncall' });
    expect(repaired).toMatchObject({ present: 1, repaired: 1, repair_failed: 0, unresolved: 0 });
    expect(repaired.findings[0]).toMatchObject({ repair: 'erased' });
    expect(await f.files.exists('docs/7.pdf')).toBe(false);
    expect(await f.ledger(`outcome = 'reerased'`)).toMatchObject([{ job_id: 'r7', file_key: 'docs/7.pdf', run_id: repaired.verify_id }]);
    const audit = await f.db.pool.query(`SELECT details FROM audit_logs WHERE action = 'cleanup_ledger_reerased'`);
    expect(audit.rows[0].details).toMatchObject({ source: 'lethe', by: 'oncall', repaired: 1, ledger_keys: ['docs/7.pdf'] });
    expect(await verifyLedger(engine, { all: true })).toMatchObject({ present: 0, unresolved: 0 });
  });

  it('does not flag a key that is rightly back (a new row refers to it, or it was restored), and never repairs a held key', async () => {
    await f.seed([
      { id: 'a', key: 'a.pdf' },
      { id: 'b', key: 'b.pdf' },
      { id: 'c', key: 'c.pdf' },
    ]);
    const engine = f.engine();
    await engine.run();
    // a.pdf re-uploaded by the platform with a new row; b.pdf back from a backup but under a hold; c.pdf back, unexplained.
    await f.seed([{ id: 'a2', key: 'a.pdf', age: '1 hour' }]);
    await restoreFromBackup('b.pdf', 'b');
    await restoreFromBackup('c.pdf', 'c');
    await hold('b.pdf');
    const r = await verifyLedger(engine, { sample: 10, repair: true });
    expect(r).toMatchObject({ rightly_present: 1, present: 2, held: 1, repaired: 1, unresolved: 1 });
    expect(Object.fromEntries(r.findings.map((x) => [x.file_key, x.repair]))).toEqual({ 'b.pdf': 'skipped_held', 'c.pdf': 'erased' });
    expect(await f.files.exists('a.pdf')).toBe(true);
    expect(await f.files.exists('b.pdf')).toBe(true);
    expect(await f.files.exists('c.pdf')).toBe(false);
  });

  it('checks trashed and purged rows too: a file back at its key after being trashed is a finding', async () => {
    await f.seed([{ id: 't', key: 't.pdf' }]);
    const engine = f.engine({ undoWindow: '7d' });
    await engine.run();
    await f.files.put('t.pdf', 'back');
    expect(await verifyLedger(engine, { all: true })).toMatchObject({ present: 1, findings: [{ file_key: 't.pdf', outcome: 'trashed' }] });
  });
});

describe('ledger repair never deletes a newer file at an erased key', () => {
  it('a brand-new upload at a key erased earlier (no jobs row yet) is a newer_object finding: reported, exit-worthy, never deleted', async () => {
    await f.seed([
      { id: 'n1', key: 'up/1.pdf' },
      { id: 'n2', key: 'up/2.pdf' },
    ]);
    const engine = f.engine();
    expect(await engine.run()).toMatchObject({ deleted_count: 2 });
    // The platform uploads a new file at the same key; its row is not in yet.
    await f.files.put('up/1.pdf', 'a brand-new upload');
    const r = await verifyLedger(engine, { all: true, repair: true, by: 'oncall' });
    expect(r).toMatchObject({ present: 1, newer_objects: 1, repaired: 0, repair_failed: 0, unresolved: 1 });
    expect(r.findings).toMatchObject([{ file_key: 'up/1.pdf', job_id: 'n1', kind: 'newer_object', repair: 'skipped_newer' }]);
    expect(Date.parse(r.findings[0]!.modified_at)).toBeGreaterThanOrEqual(Date.parse(r.findings[0]!.erasure_started_at));
    expect(await readFile(join(f.files.root, 'up/1.pdf'), 'utf8')).toBe('a brand-new upload');
    expect(await f.ledger(`outcome = 'reerased'`)).toEqual([]);
    const audit = await f.db.pool.query(`SELECT count(*)::int AS n FROM audit_logs WHERE action = 'cleanup_ledger_reerased'`);
    expect(audit.rows[0].n).toBe(0);
  });

  it('a file written after the run began but before its ledger row (the delete-to-ledger gap) is newer too', async () => {
    await f.seed([{ id: 'g', key: 'gap.pdf' }]);
    const engine = f.engine();
    await engine.run();
    const { rows } = await f.db.pool.query<{ started: Date; erased: Date }>(
      `SELECT r.started_at AS started, l.erased_at AS erased FROM lethe_ledger l JOIN lethe_runs r ON r.id = l.run_id WHERE l.job_id = 'g'`,
    );
    const { started, erased } = rows[0]!;
    expect(erased.getTime()).toBeGreaterThan(started.getTime());
    await f.files.put('gap.pdf', 'uploaded while the run was writing its ledger');
    await setModified('gap.pdf', new Date((started.getTime() + erased.getTime()) / 2));
    const r = await verifyLedger(engine, { all: true, repair: true });
    expect(r).toMatchObject({ newer_objects: 1, repaired: 0, unresolved: 1, findings: [{ kind: 'newer_object', erasure_started_at: started.toISOString() }] });
    expect(await f.files.exists('gap.pdf')).toBe(true);
  });

  it('with HMAC keys (storage scan) a newer upload is never deleted either, and a restored one is', async () => {
    await f.seed([
      { id: 'h1', key: 'hm/1.pdf' },
      { id: 'h2', key: 'hm/2.pdf' },
    ]);
    const engine = f.engine({ ledgerKeyHmacSecret: 'a-test-secret-of-32-bytes-length' });
    await engine.run();
    await f.files.put('hm/1.pdf', 'new');
    await restoreFromBackup('hm/2.pdf', 'old');
    const r = await verifyLedger(engine, { repair: true });
    expect(r).toMatchObject({ mode: 'storage_scan', present: 2, newer_objects: 1, repaired: 1, unresolved: 1 });
    expect(Object.fromEntries(r.findings.map((x) => [x.file_key, [x.kind, x.repair]]))).toEqual({
      'hm/1.pdf': ['newer_object', 'skipped_newer'],
      'hm/2.pdf': ['present', 'erased'],
    });
    expect(await f.files.exists('hm/1.pdf')).toBe(true);
    expect(await f.files.exists('hm/2.pdf')).toBe(false);
  });

  it('repair checks again at the moment of deleting: a file replaced since the check, or a key held since, is left alone', async () => {
    await f.seed([
      { id: 'x', key: 'x.pdf' },
      { id: 'y', key: 'y.pdf' },
      { id: 'z', key: 'z.pdf' },
    ]);
    const engine = f.engine();
    await engine.run();
    for (const k of ['x.pdf', 'y.pdf', 'z.pdf']) await restoreFromBackup(k, `old ${k}`);
    const checked = await verifyLedger(engine, { all: true });
    expect(checked).toMatchObject({ present: 3, newer_objects: 0 });
    // Between the check and the repair: a new upload replaces x.pdf, a hold lands on y.pdf.
    await f.files.put('x.pdf', 'a new upload, written after the check');
    await hold('y.pdf');
    const { findings, counts } = await repairFindings(engine, '00000000-0000-4000-8000-000000000001', checked.findings, 'oncall');
    expect(counts).toEqual({ repaired: 1, repair_failed: 0 });
    expect(Object.fromEntries(findings.map((x) => [x.file_key, x.repair]))).toEqual({ 'x.pdf': 'skipped_changed', 'y.pdf': 'skipped_held', 'z.pdf': 'erased' });
    expect(await readFile(join(f.files.root, 'x.pdf'), 'utf8')).toBe('a new upload, written after the check');
    expect(await f.files.exists('y.pdf')).toBe(true);
    expect(await f.files.exists('z.pdf')).toBe(false);
  });
});
