import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_JOBS_TABLE, inspectJobsTable, placeHold, verifyLedger } from '@lethe/engine';
import { createSafetyFixture, type SafetyFixture } from './fixture.js';

let f: SafetyFixture;

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

    await f.files.put('docs/7.pdf', 'restored from last week\'s backup');
    const found = await verifyLedger(engine, { all: true });
    expect(found).toMatchObject({ mode: 'all', rows_checked: 30, present: 1, repaired: 0, unresolved: 1 });
    expect(found.findings).toMatchObject([{ file_key: 'docs/7.pdf', job_id: 'r7', outcome: 'erased', held: false }]);
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
    await f.seed([{ id: 'a', key: 'a.pdf' }, { id: 'b', key: 'b.pdf' }, { id: 'c', key: 'c.pdf' }]);
    const engine = f.engine();
    await engine.run();
    // a.pdf re-uploaded by the platform with a new row; b.pdf back from a backup but under a hold; c.pdf back, unexplained.
    await f.seed([{ id: 'a2', key: 'a.pdf', age: '1 hour' }]);
    await f.files.put('b.pdf');
    await f.files.put('c.pdf');
    await placeHold(f.db.pool, await inspectJobsTable(f.db.pool, DEFAULT_JOBS_TABLE), { target: { fileKey: 'b.pdf' }, reason: 'litigation', by: 'legal' });
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
