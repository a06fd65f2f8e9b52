import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createEngine,
  ErrorCodes,
  FINANCIAL_RETAINED_UNDER,
  listErasureRequests,
  placeHold,
  inspectJobsTable,
  previewErasureRequest,
  runErasureRequest,
  submitErasureRequest,
  type Engine,
} from '@lethe/engine';
import { evaluateHealth, monthlyReport, gatherHealthFacts, setRetainedUnder } from '@lethe/engine/operations';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';

/**
 * Erasure on request (docs/rights.md) on real Postgres and files: a request by principal erases
 * the principal's rows and files whatever their age, refuses the Financial ones with the statute,
 * honours a hold, erases a row whose file another principal shares but keeps the file, and is
 * idempotent by reference; an overdue request shows in health.
 */
let db: TestDatabase;
let files: TempRoot;
let engine: Engine;

const utc = `(now() AT TIME ZONE 'UTC')`;
const ROWS: readonly [id: string, user: string, purpose: string, key: string, age: string][] = [
  ['u1-new', 'u1', 'General', 'u1/new.pdf', '1 day'],
  ['u1-test', 'u1', 'System Testing', 'u1/test.pdf', '1 hour'],
  ['u1-inv', 'u1', 'Financial', 'u1/invoice.pdf', '10 days'],
  ['u1-shared', 'u1', 'General', 'shared/s.pdf', '2 days'],
  ['u2-shared', 'u2', 'General', 'shared/s.pdf', '2 days'],
  ['u1-held', 'u1', 'General', 'held/h.pdf', '3 days'],
  ['u1-twice-a', 'u1', 'General', 'u1/twice.pdf', '4 days'],
  ['u1-twice-b', 'u1', 'Medical', 'u1/twice.pdf', '4 days'],
  ['u2-own', 'u2', 'General', 'u2/own.pdf', '1 day'],
];

beforeAll(async () => {
  db = await createTestDatabase('erasure_req');
  files = await createTempRoot('erasure-req');
  await createJobsTable(db.pool);
  await db.pool.query(`ALTER TABLE jobs ADD COLUMN user_id text`);
  for (const [id, user, purpose, key, age] of ROWS) {
    await db.pool.query(`INSERT INTO jobs (id, user_id, purpose_code, file_key, created_at) VALUES ($1, $2, $3, $4, ${utc} - $5::interval)`, [
      id,
      user,
      purpose,
      key,
      age,
    ]);
    await files.put(key);
  }
  // Medical's default duty is overridden here: the test names Financial as the one retained purpose.
  engine = createEngine({
    databaseUrl: db.url,
    storage: `file://${files.root}`,
    threads: 1,
    policies: { 'System Testing': '24h', General: '30d', Financial: { retention: '1y', retainedUnder: FINANCIAL_RETAINED_UNDER }, Legal: '7y', Medical: '10y' },
    erasure: { principalColumn: 'user_id', deadlineDays: 30 },
  });
  await engine.migrate();
  const table = await inspectJobsTable(db.pool, engine.options.jobs);
  await placeHold(db.pool, table, { target: { fileKey: 'held/h.pdf' }, reason: 'INC-7 litigation', by: 'legal@example.com' });
});

afterAll(async () => {
  await engine.close();
  await db.drop();
  await files.remove();
});

const request = {
  reference: 'DPO-2026-0001',
  target: { kind: 'principal' as const, values: ['u1'] },
  requestedBy: 'u1 (data principal)',
  reason: 'consent-withdrawn' as const,
  submittedBy: 'dpo@example.com',
};
const ids = (rows: readonly { job_id: string }[]) => rows.map((r) => r.job_id).sort();
const jobIds = async () => (await db.pool.query<{ id: string }>('SELECT id FROM jobs ORDER BY id')).rows.map((r) => r.id);

describe('erasure requests', () => {
  it('a dry run shows exactly what the request would erase and refuse, and changes nothing', async () => {
    const p = await previewErasureRequest(engine, request);
    expect(ids(p.erase.rows)).toEqual(['u1-new', 'u1-test', 'u1-twice-a', 'u1-twice-b']);
    expect(p.files_erased).toBe(3);
    expect(ids(p.unlink.rows)).toEqual(['u1-shared']);
    expect(ids(p.retained.rows)).toEqual(['u1-inv']);
    expect(p.retained.statutes).toEqual({ Financial: FINANCIAL_RETAINED_UNDER });
    expect(ids(p.held.rows)).toEqual(['u1-held']);
    expect(await jobIds()).toHaveLength(ROWS.length);
    expect(await listErasureRequests(engine, { state: 'all' })).toEqual([]);
  });

  it("erases the principal's rows whatever their age, refuses Financial with the statute, honours the hold, keeps a shared file", async () => {
    const submitted = await submitErasureRequest(engine, request);
    expect(submitted).toMatchObject({ created: true, state: 'open', overdue: false, reason: 'consent-withdrawn' });
    expect(submitted.seconds_left).toBeGreaterThan(29 * 86_400);
    const { run, request: after, record } = await runErasureRequest(engine, request.reference);
    expect(run).toMatchObject({ status: 'completed', trigger: 'request', erased_count: 3, failed_count: 0 });
    expect(after).toMatchObject({ state: 'completed', last_run_id: run!.run_id, overdue: false, seconds_left: null });
    expect(await jobIds()).toEqual(['u1-held', 'u1-inv', 'u2-own', 'u2-shared']);
    for (const k of ['u1/new.pdf', 'u1/test.pdf', 'u1/twice.pdf']) expect(await files.exists(k), k).toBe(false);
    for (const k of ['u1/invoice.pdf', 'shared/s.pdf', 'held/h.pdf', 'u2/own.pdf']) expect(await files.exists(k), k).toBe(true);
    const ledger = await db.pool.query<{ job_id: string; outcome: string; error: string | null; request_ref: string | null }>(
      `SELECT job_id, outcome, error, request_ref FROM lethe_ledger ORDER BY job_id`,
    );
    expect(ledger.rows.every((r) => r.request_ref === request.reference)).toBe(true);
    expect(ledger.rows.slice(0, 5).map((r) => [r.job_id, r.outcome])).toEqual([
      ['u1-held', 'held'],
      ['u1-inv', 'retained'],
      ['u1-new', 'erased'],
      ['u1-shared', 'unlinked'],
      ['u1-test', 'erased'],
    ]);
    // Two rows at one key: one records the erasure, the other finds the file gone.
    expect(
      ledger.rows
        .slice(5)
        .map((r) => [r.job_id, r.outcome])
        .sort(),
    ).toHaveLength(2);
    expect(
      ledger.rows
        .slice(5)
        .map((r) => r.outcome)
        .sort(),
    ).toEqual(['absent', 'erased']);
    expect(ledger.rows.find((r) => r.job_id === 'u1-inv')!.error).toBe(FINANCIAL_RETAINED_UNDER);
    expect(record).toMatchObject({
      reference: request.reference,
      state: 'completed',
      rows_erased: 4,
      files_erased: 3,
      rows_unlinked: 1,
      held_rows: 1,
      retained: [{ purpose: 'Financial', statute: FINANCIAL_RETAINED_UNDER, rows: 1 }],
      runs: [run!.run_id],
    });
    const audit = await db.pool.query<{ action: string }>(`SELECT action FROM audit_logs WHERE action LIKE 'cleanup_erasure_%' ORDER BY id`);
    expect(audit.rows.map((r) => r.action)).toEqual(['cleanup_erasure_requested', 'cleanup_erasure_completed']);
  });

  it('is idempotent by reference: the same request is returned, not run twice; another target under it is refused', async () => {
    const again = await submitErasureRequest(engine, request);
    expect(again).toMatchObject({ created: false, state: 'completed' });
    const rerun = await runErasureRequest(engine, request.reference);
    expect(rerun.run).toBeNull();
    expect((await db.pool.query(`SELECT 1 FROM lethe_erasure_requests`)).rowCount).toBe(1);
    await expect(submitErasureRequest(engine, { ...request, target: { kind: 'principal', values: ['u2'] } })).rejects.toMatchObject({
      code: ErrorCodes.REQUEST_CONFLICT,
    });
  });

  it('a request past its deadline is overdue in the list and in health', async () => {
    const late = await submitErasureRequest(engine, {
      ...request,
      reference: 'DPO-2026-0002',
      target: { kind: 'job', values: ['u2-own'] },
      dueAt: '2026-01-31',
    });
    expect(late).toMatchObject({ state: 'open', overdue: true });
    expect(late.seconds_left).toBeLessThan(0);
    expect((await listErasureRequests(engine, { state: 'overdue' })).map((r) => r.reference)).toEqual(['DPO-2026-0002']);
    const facts = await gatherHealthFacts(db.pool, Date.now(), 60_000);
    expect(facts.overdueRequests).toBe(1);
    const health = evaluateHealth(facts);
    expect(health.overdue_requests).toBe(1);
    expect(health.status).not.toBe('healthy');
    expect(health.reasons.join('\n')).toMatch(/1 erasure request is past its deadline/);
    // Served late, it completes and is no longer overdue.
    const done = await runErasureRequest(engine, 'DPO-2026-0002');
    expect(done.request).toMatchObject({ state: 'completed', overdue: false });
    expect(await files.exists('u2/own.pdf')).toBe(false);
    expect((await gatherHealthFacts(db.pool, Date.now(), 60_000)).overdueRequests).toBe(0);
  });

  it('the monthly report shows requests received, completed, refused with the statute and overdue', async () => {
    const month = new Date().toISOString().slice(0, 7);
    const r = await monthlyReport(engine, month);
    expect(r.erasure_requests).toMatchObject({
      received: 2,
      completed: 2,
      completed_late: 1,
      rows_erased: 5,
      rows_unlinked: 1,
      held_rows: 1,
      overdue: 0,
      refused: [{ purpose: 'Financial', statute: FINANCIAL_RETAINED_UNDER, rows: 1 }],
    });
    expect(r.status).toBe('COMPLIANT');
    await submitErasureRequest(engine, { ...request, reference: 'DPO-2026-0003', target: { kind: 'job', values: ['u2-shared'] }, dueAt: '2026-02-01' });
    const late = await monthlyReport(engine, month);
    expect(late.erasure_requests).toMatchObject({ overdue: 1, overdue_references: ['DPO-2026-0003'] });
    expect(late.status).toBe('NON-COMPLIANT');
    expect(late.reasons.join('\n')).toMatch(/1 erasure request was open past its deadline now \(DPO-2026-0003\)/);
  });

  it('the next completed run takes an open request (mode next-run) in a run of its own', async () => {
    expect((await listErasureRequests(engine)).map((r) => r.reference)).toEqual(['DPO-2026-0003']);
    const retention = await engine.run();
    expect(retention).toMatchObject({ status: 'completed', trigger: 'manual', deleted_count: 0 });
    const served = (await listErasureRequests(engine, { state: 'all' })).find((r) => r.reference === 'DPO-2026-0003')!;
    expect(served).toMatchObject({ state: 'completed', overdue: false });
    expect(served.last_run_id).not.toBe(retention.run_id);
    expect(await files.exists('shared/s.pdf')).toBe(false);
  });

  it('a retention duty set on a purpose is refused from then on, with its statute', async () => {
    const set = await setRetainedUnder(engine, { purpose: 'General', statute: 'Test Records Act s.1', by: 'dpo', reason: 'counsel, ticket 7' });
    expect(set).toMatchObject({ from: null, to: 'Test Records Act s.1', applied: true });
    const p = await previewErasureRequest(engine, { reference: 'DPO-X', target: { kind: 'principal', values: ['u1'] } });
    expect(p.retained.statutes).toMatchObject({ General: 'Test Records Act s.1', Financial: FINANCIAL_RETAINED_UNDER });
    expect(ids(p.retained.rows)).toEqual(['u1-held', 'u1-inv']);
    expect((await setRetainedUnder(engine, { purpose: 'General', statute: null, by: 'dpo' })).to).toBeNull();
    await expect(setRetainedUnder(engine, { purpose: 'Genral', statute: 'x', by: 'dpo' })).rejects.toThrow(/purpose: unknown purpose "Genral"/);
  });

  it('names the field when a request is malformed', async () => {
    await expect(submitErasureRequest(engine, { ...request, reference: ' bad ref' })).rejects.toThrow(/reference: expected the ticket id/);
    await expect(submitErasureRequest(engine, { ...request, reason: 'because' as never })).rejects.toThrow(/why: expected "request" or "consent-withdrawn"/);
    await expect(submitErasureRequest(engine, { ...request, reference: 'X-1', target: { kind: 'principal', values: [] } })).rejects.toThrow(
      /principal: expected 1 to 10000 values/,
    );
  });
});

describe('a request naming a row of a purpose with no policy', () => {
  it('refuses that row (never erased, ledger `refused` with LETHE_E_POLICY_UNKNOWN), erases the rest, and the run still completes', async () => {
    await db.pool.query(
      `INSERT INTO jobs (id, user_id, purpose_code, file_key, created_at) VALUES ('u3-mkt', 'u3', 'Marketing', 'u3/mkt.pdf', ${utc} - interval '2 days'), ('u3-gen', 'u3', 'General', 'u3/gen.pdf', ${utc} - interval '2 days')`,
    );
    await files.put('u3/mkt.pdf');
    await files.put('u3/gen.pdf');
    const req = { ...request, reference: 'DPO-2026-0300', target: { kind: 'principal' as const, values: ['u3'] } };
    const preview = await previewErasureRequest(engine, req);
    expect(ids(preview.refused.rows)).toEqual(['u3-mkt']);
    expect(ids(preview.erase.rows)).toEqual(['u3-gen']);
    await submitErasureRequest(engine, req);
    const { run, request: after } = await runErasureRequest(engine, req.reference);
    expect(run).toMatchObject({ status: 'completed', failed_count: 0 });
    expect(after.state).toBe('open');
    expect(await files.exists('u3/mkt.pdf')).toBe(true);
    expect(await files.exists('u3/gen.pdf')).toBe(false);
    const ledger = await db.pool.query<{ job_id: string; outcome: string; error_code: string; expires_at: Date | null }>(
      `SELECT job_id, outcome, error_code, expires_at FROM lethe_ledger WHERE request_ref = $1 ORDER BY job_id`,
      [req.reference],
    );
    expect(ledger.rows.map((r) => [r.job_id, r.outcome, r.outcome === 'refused' ? r.error_code : null])).toEqual([
      ['u3-gen', 'erased', null],
      ['u3-mkt', 'refused', ErrorCodes.POLICY_UNKNOWN],
    ]);
    expect(ledger.rows.find((r) => r.job_id === 'u3-mkt')!.expires_at).toBeNull();
    expect(await jobIds()).toContain('u3-mkt');
  });
});
