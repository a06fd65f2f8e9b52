import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { runCli, spawnCli, waitFor, waitForExit } from '../support/cli.js';
import { expectConverged } from '../support/convergence.js';
import { createTempRoot, type TempRoot } from '../support/files.js';

/**
 * `lethe erase` end to end (docs/rights.md, runbook REQ-001): a request by principal killed with
 * SIGKILL mid-request and submitted again under the same reference converges (the rerun takes
 * what is left; the request completes once); the dry run, the list and the reply say what happened.
 */
const MINE = 2500;
let db: TestDatabase;
let files: TempRoot;
let env: Record<string, string>;
const mineKeys = Array.from({ length: MINE }, (_, i) => `u1/${Math.floor(i / 100)}/${i}.pdf`);
const theirKeys = Array.from({ length: 200 }, (_, i) => `u2/${i}.pdf`);
const invoiceKeys = ['u1/invoices/1.pdf', 'u1/invoices/2.pdf'];
const erase = ['erase', '--principal', 'u1', '--ref', 'DPO-2026-0142', '--requested-by', 'u1 (data principal)', '--why', 'consent-withdrawn'];

beforeAll(async () => {
  db = await createTestDatabase('cli_erase');
  files = await createTempRoot('cli-erase');
  await createJobsTable(db.pool);
  await db.pool.query(`ALTER TABLE jobs ADD COLUMN user_id text`);
  // Rows young enough that no retention run would touch them: only the request erases them.
  await db.pool.query(
    `INSERT INTO jobs (id, user_id, file_key, purpose_code, created_at)
     SELECT 'm' || i, 'u1', k, 'General', (now() AT TIME ZONE 'UTC') - interval '1 day' FROM unnest($1::text[]) WITH ORDINALITY AS t(k, i)
     UNION ALL SELECT 't' || i, 'u2', k, 'General', (now() AT TIME ZONE 'UTC') - interval '1 day' FROM unnest($2::text[]) WITH ORDINALITY AS t(k, i)
     UNION ALL SELECT 'f' || i, 'u1', k, 'Financial', (now() AT TIME ZONE 'UTC') - interval '2 days' FROM unnest($3::text[]) WITH ORDINALITY AS t(k, i)`,
    [mineKeys, theirKeys, invoiceKeys],
  );
  for (const k of [...mineKeys, ...theirKeys, ...invoiceKeys]) await files.put(k);
  env = {
    DATABASE_URL: db.url,
    LETHE_STORAGE: `file://${files.root}`,
    LETHE_BATCH_SIZE: '100',
    LETHE_DELETES_PER_SECOND: '3000',
    LETHE_THREADS: '1',
    LETHE_ERASURE_PRINCIPAL_COLUMN: 'user_id',
  };
  expect((await runCli(['migrate'], env)).code).toBe(0);
});

afterAll(async () => {
  await db.drop();
  await files.remove();
});

describe('lethe erase', () => {
  it('--dry-run lists what would be erased and refused, and stores nothing', async () => {
    const r = await runCli([...erase, '--dry-run', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const p = JSON.parse(r.stdout);
    expect(p.erase.count).toBe(MINE);
    expect(p.files_erased).toBe(MINE);
    expect(p.retained.count).toBe(2);
    expect(p.retained.rows.map((x: { purpose: string }) => x.purpose)).toEqual(['Financial', 'Financial']);
    expect((await db.pool.query('SELECT 1 FROM lethe_erasure_requests')).rowCount).toBe(0);
    const text = await runCli([...erase, '--dry-run'], env);
    expect(text.stdout).toMatch(/would refuse \(retained by statute\): 2/);
    expect(text.stdout).toMatch(/retained under Income-tax Act 1961 s\.44AA/);
  });

  it('names the field on bad input', async () => {
    const r = await runCli(['erase', '--principal', 'u1', '--ref', 'DPO-1', '--requested-by', 'x', '--why', 'whim'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--why: expected "request" or "consent-withdrawn"/);
    const both = await runCli(['erase', '--principal', 'u1', '--job', 'm1', '--ref', 'DPO-1', '--requested-by', 'x', '--why', 'request'], env);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/target: give exactly one of --job, --key or --principal/);
  });

  it('survives a SIGKILL mid-request: the same reference again completes it, once', async () => {
    const child = spawnCli([...erase, '--json'], env);
    const exit = waitForExit(child);
    await waitFor(
      async () => {
        const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM lethe_ledger WHERE request_ref = 'DPO-2026-0142'`);
        return rows[0]!.n >= 600;
      },
      60_000,
      '600 ledger rows of the request',
    );
    child.kill('SIGKILL');
    expect((await exit).signal).toBe('SIGKILL');
    const open = await runCli(['requests', '--json'], env);
    expect(JSON.parse(open.stdout).map((r: { reference: string; state: string }) => [r.reference, r.state])).toEqual([['DPO-2026-0142', 'open']]);

    const again = await runCli([...erase, '--json'], env);
    expect(again.code, again.stderr).toBe(0);
    const out = JSON.parse(again.stdout);
    expect(out).toMatchObject({ created: false, request: { state: 'completed' }, run: { status: 'completed', failed_count: 0 } });
    expect(out.record).toMatchObject({ rows_erased: MINE, files_erased: MINE, retained: [{ purpose: 'Financial', rows: 2 }] });
    await expectConverged(db.pool, files, mineKeys, [...theirKeys, ...invoiceKeys]);
    const runs = await db.pool.query<{ status: string; trigger: string }>(`SELECT status, trigger FROM lethe_runs ORDER BY started_at`);
    expect(runs.rows).toEqual([
      { status: 'interrupted', trigger: 'request' },
      { status: 'completed', trigger: 'request' },
    ]);
    const completed = await db.pool.query(`SELECT 1 FROM audit_logs WHERE action = 'cleanup_erasure_completed'`);
    expect(completed.rowCount).toBe(1);
    // Every ledger row of the request carries its reference; none other exists.
    const refs = await db.pool.query<{ ref: string | null }>(`SELECT DISTINCT request_ref AS ref FROM lethe_ledger`);
    expect(refs.rows).toEqual([{ ref: 'DPO-2026-0142' }]);

    const third = await runCli([...erase, '--json'], env);
    expect(JSON.parse(third.stdout)).toMatchObject({ created: false, run: null, request: { state: 'completed' } });
  });

  it('prints the completion record as a reply, and lists overdue requests', async () => {
    const reply = await runCli(['requests', 'show', 'DPO-2026-0142', '--reply'], env);
    expect(reply.code, reply.stderr).toBe(0);
    expect(reply.stdout).toMatch(/the withdrawal of your consent/);
    expect(reply.stdout).toMatch(new RegExp(`${MINE.toLocaleString('en-US')} records and ${MINE.toLocaleString('en-US')} documents were erased`));
    expect(reply.stdout).toMatch(/2 Financial records are kept because the law requires us to keep them \(Income-tax Act 1961 s\.44AA/);
    const late = await runCli(
      ['erase', '--job', 't1', '--ref', 'DPO-2026-0001', '--requested-by', 'u2', '--why', 'request', '--due', '2026-01-31', '--next-run'],
      env,
    );
    expect(late.code, late.stderr).toBe(0);
    const overdue = await runCli(['requests', '--overdue'], env);
    expect(overdue.code).toBe(1);
    expect(overdue.stdout).toMatch(/DPO-2026-0001\s+OVERDUE/);
  });

  it('lethe policies retained-under sets and removes a statute; --help documents the flags', async () => {
    const off = await runCli(['policies', 'retained-under', 'Financial', 'none', '--reason', 'counsel: test', '--json'], env);
    expect(off.code, off.stderr).toBe(0);
    expect(JSON.parse(off.stdout)).toMatchObject({
      purpose: 'Financial',
      from: 'Income-tax Act 1961 s.44AA / Companies Act 2013 s.128',
      to: null,
      applied: true,
    });
    const p = JSON.parse((await runCli(['erase', '--key', invoiceKeys[0]!, '--ref', 'DPO-X', '--dry-run', '--json'], env)).stdout);
    expect([p.erase.count, p.retained.count]).toEqual([1, 0]);
    const bad = await runCli(['policies', 'retained-under', 'Financial', ''], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/policy "Financial": retainedUnder must name the statute/);
    const help = await runCli(['erase', '--help'], env);
    for (const flag of [
      '--job <id>',
      '--key <file_key>',
      '--principal <id>',
      '--ref <ticket>',
      '--requested-by <who>',
      '--why <reason>',
      '--due <date>',
      '--dry-run',
      '--next-run',
    ]) {
      expect(help.stdout.replace(/\s+/g, ' ')).toContain(flag);
    }
    expect((await runCli(['requests', '--help'], env)).stdout).toMatch(/unacknowledged/);
  });
});
