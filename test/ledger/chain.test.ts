import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEngine, ErrorCodes, type Engine } from '@lethe/engine';
import { pruneEvidence, verifyLedgerChain } from '@lethe/engine/operations';
import { batchDigest, canonicalLedgerRow, chainedRowSelect, linkHash, type ChainedRow } from '@lethe/engine/testing';
import { createJobsTable, createTestDatabase, insertJobs, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';

// The tamper-evident ledger (docs/safety.md#tamper-evident-ledger): every ledger batch is a link;
// verify recomputes the chain and names the first run and batch where a row was changed,
// deleted or inserted out of band; a prune keeps it verifiable.

const UTC_NOW = `(now() AT TIME ZONE 'UTC')`;
let db: TestDatabase;
let files: TempRoot;
let engine: Engine;

beforeAll(async () => {
  db = await createTestDatabase('chain');
  await createJobsTable(db.pool);
});
afterAll(async () => {
  await db.drop();
});
beforeEach(async () => {
  files = await createTempRoot('chain');
  await db.pool.query('TRUNCATE jobs');
  engine = createEngine({ databaseUrl: db.url, storage: `file://${files.root}`, threads: 1, batchSize: 3 });
  await engine.migrate();
  await db.pool.query('TRUNCATE lethe_ledger, lethe_ledger_chain');
  await db.pool.query(
    `UPDATE lethe_ledger_chain_head SET seq = 0, link_hash = repeat('0', 64), anchor_seq = 0, anchor_hash = repeat('0', 64), start_ledger_id = 0`,
  );
  await db.pool.query('UPDATE lethe_runs SET chain_seq = NULL, chain_head = NULL, chain_signature = NULL');
});
afterEach(async () => {
  await engine.close();
  await files.remove();
});

/** `n` expired jobs with files: a run with batch size 3 writes ceil(n / 3) links. */
async function seedExpired(prefix: string, n: number): Promise<void> {
  const jobs = Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    fileKey: `${prefix}/${i}.pdf`,
    purpose: 'System Testing',
    createdAtSql: `${UTC_NOW} - interval '2 days'`,
  }));
  await insertJobs(db.pool, jobs);
  for (const j of jobs) await files.put(j.fileKey);
}

async function links(): Promise<{ seq: string; run_id: string; first_ledger_id: string; last_ledger_id: string }[]> {
  return (await db.pool.query(`SELECT seq::text, run_id::text, first_ledger_id::text, last_ledger_id::text FROM lethe_ledger_chain ORDER BY seq`)).rows;
}

describe('the chain a run writes', () => {
  it('one link per batch, each run row holding its head; verify passes', async () => {
    await seedExpired('a', 7);
    const s = await engine.run();
    expect(s).toMatchObject({ status: 'completed', deleted_count: 7 });
    const l = await links();
    expect(l).toHaveLength(3);
    expect(l.every((x) => x.run_id === s.run_id)).toBe(true);
    const run = (await db.pool.query(`SELECT chain_seq::text, chain_head FROM lethe_runs WHERE id = $1`, [s.run_id])).rows[0];
    expect(run.chain_seq).toBe(l[2]!.seq);
    const r = await verifyLedgerChain(db.pool);
    expect(r).toMatchObject({ ok: true, links_checked: 3, rows_checked: 7, problems: [] });
  });
});

describe('tampering is found and named', () => {
  let runs: string[] = [];
  beforeEach(async () => {
    await seedExpired('b', 6);
    const first = await engine.run();
    await seedExpired('c', 6);
    const second = await engine.run();
    runs = [first.run_id, second.run_id];
    expect((await verifyLedgerChain(db.pool)).ok).toBe(true);
  });

  it('a changed row: the batch that holds it', async () => {
    const target = (await links())[2]!;
    await db.pool.query(`UPDATE lethe_ledger SET outcome = 'failed' WHERE id = $1::bigint`, [target.last_ledger_id]);
    const r = await verifyLedgerChain(db.pool);
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatchObject({ code: ErrorCodes.LEDGER_CHAIN, problem: 'rows_changed', seq: target.seq, run_id: runs[1] });
    expect(r.problems[0]!.message).toContain('changed');
  });

  it('a deleted row: the batch that held it', async () => {
    const target = (await links())[1]!;
    await db.pool.query(`DELETE FROM lethe_ledger WHERE id = $1::bigint`, [target.first_ledger_id]);
    const r = await verifyLedgerChain(db.pool);
    expect(r.problems[0]).toMatchObject({ problem: 'rows_changed', seq: target.seq, run_id: runs[0] });
    expect(r.problems[0]!.message).toContain('deleted');
  });

  it('a row inserted out of band after the last batch', async () => {
    await db.pool.query(`INSERT INTO lethe_ledger (run_id, job_id, file_key, outcome) VALUES ($1, 'forged', 'forged.pdf', 'erased')`, [runs[1]]);
    const r = await verifyLedgerChain(db.pool);
    expect(r.problems[0]).toMatchObject({ code: ErrorCodes.LEDGER_CHAIN, problem: 'rows_inserted_out_of_band', seq: null });
  });

  it('a row inserted out of band between two runs: named by the batch after it', async () => {
    await db.pool.query(`INSERT INTO lethe_ledger (run_id, job_id, file_key, outcome) VALUES ($1, 'forged', 'forged.pdf', 'erased')`, [runs[1]]);
    await seedExpired('d', 2);
    const third = await engine.run();
    const r = await verifyLedgerChain(db.pool);
    const firstOfThird = (await links()).find((x) => x.run_id === third.run_id)!;
    expect(r.problems[0]).toMatchObject({ problem: 'rows_inserted_out_of_band', seq: firstOfThird.seq, run_id: third.run_id });
  });

  it('a link record changed or removed', async () => {
    const l = await links();
    await db.pool.query(`DELETE FROM lethe_ledger_chain WHERE seq = $1::bigint`, [l[l.length - 1]!.seq]);
    const r = await verifyLedgerChain(db.pool);
    expect(r.problems[0]).toMatchObject({ problem: 'head_mismatch' });
  });

  it('a recomputed link without the rest of the chain', async () => {
    const l = (await links())[0]!;
    await db.pool.query(`UPDATE lethe_ledger SET error = 'edited' WHERE id = $1::bigint`, [l.first_ledger_id]);
    // The forger recomputes this batch's digest and link: the next link no longer follows it.
    const rows = (
      await db.pool.query<ChainedRow>(`SELECT ${chainedRowSelect('l')} FROM lethe_ledger l WHERE id BETWEEN $1 AND $2 ORDER BY id`, [
        l.first_ledger_id,
        l.last_ledger_id,
      ])
    ).rows;
    const link = (
      await db.pool.query(
        `SELECT seq::text, run_id::text, prev_hash, row_count, first_ledger_id::text, last_ledger_id::text FROM lethe_ledger_chain WHERE seq = $1`,
        [l.seq],
      )
    ).rows[0];
    const digest = batchDigest(rows);
    await db.pool.query(`UPDATE lethe_ledger_chain SET batch_digest = $2, link_hash = $3 WHERE seq = $1`, [
      l.seq,
      digest,
      linkHash({ ...link, batch_digest: digest }),
    ]);
    const r = await verifyLedgerChain(db.pool);
    expect(r.problems[0]).toMatchObject({ problem: 'prev_mismatch', seq: String(BigInt(l.seq) + 1n) });
  });
});

describe('prune keeps the chain verifiable', () => {
  it('removes whole batches from the start and records the segment head; verify then passes', async () => {
    await seedExpired('p', 6);
    const old = await engine.run();
    await seedExpired('q', 4);
    const recent = await engine.run();
    // Old evidence for real: the first run's links and rows are backdated together, then the prune removes them whole.
    await backdate(old.run_id, '3 years');
    const before = await verifyLedgerChain(db.pool);
    expect(before.ok).toBe(true);
    const report = await pruneEvidence(engine, { olderThan: '2y', confirm: true, by: 'test' });
    expect(report.ledger_rows).toBe(6);
    const l = await links();
    expect(l.every((x) => x.run_id === recent.run_id)).toBe(true);
    const after = await verifyLedgerChain(db.pool);
    expect(after).toMatchObject({ ok: true, rows_checked: 4 });
    expect(after.anchor_seq).not.toBe('0');
    expect(report.chain_anchor?.seq).toBe(after.anchor_seq);
  });
});

/**
 * Backdates a run's ledger rows and re-links the whole chain from the anchor, as though they had
 * been written years ago (the only way a test gets old evidence through the real write path).
 */
async function backdate(runId: string, age: string): Promise<void> {
  await db.pool.query(`UPDATE lethe_ledger SET erased_at = erased_at - $2::interval WHERE run_id = $1`, [runId, age]);
  const head = (await db.pool.query(`SELECT anchor_hash FROM lethe_ledger_chain_head`)).rows[0];
  let prev: string = head.anchor_hash;
  const all = (
    await db.pool.query(`SELECT seq::text, run_id::text, row_count, first_ledger_id::text, last_ledger_id::text FROM lethe_ledger_chain ORDER BY seq`)
  ).rows;
  for (const l of all) {
    const rows = (
      await db.pool.query<ChainedRow>(`SELECT ${chainedRowSelect('l')} FROM lethe_ledger l WHERE id BETWEEN $1 AND $2 ORDER BY id`, [
        l.first_ledger_id,
        l.last_ledger_id,
      ])
    ).rows;
    const digest = batchDigest(rows);
    const link = linkHash({ ...l, prev_hash: prev, batch_digest: digest });
    await db.pool.query(`UPDATE lethe_ledger_chain SET prev_hash = $2, batch_digest = $3, link_hash = $4 WHERE seq = $1`, [l.seq, prev, digest, link]);
    await db.pool.query(`UPDATE lethe_runs SET chain_head = $2 WHERE chain_seq = $1::bigint`, [l.seq, link]);
    prev = link;
  }
  await db.pool.query(`UPDATE lethe_ledger_chain_head SET link_hash = $1`, [prev]);
}

describe('one canonical form, in SQL and in JS', () => {
  const vectors: ChainedRow[] = [
    {
      id: '1',
      run_id: '6f1c1d7e-4a47-4a4b-9a59-0b8e3b0f5d01',
      job_id: 'job-1',
      file_key: 'a/b.pdf',
      purpose_code: 'General',
      created_at: '1700000000123456',
      expires_at: '1702592000123456',
      erased_at: '1702600000000000',
      outcome: 'erased',
      error_code: null,
      error: null,
      policy_version: '1',
      trash_location: null,
      undo_window: null,
      purge_after: null,
      request_ref: null,
    },
    {
      id: '2',
      run_id: '6f1c1d7e-4a47-4a4b-9a59-0b8e3b0f5d01',
      job_id: 'ünï;~:çødé',
      file_key: '7:x;~;',
      purpose_code: null,
      created_at: null,
      expires_at: null,
      erased_at: '-1000000',
      outcome: 'trashed',
      error_code: 'EIO',
      error: '',
      policy_version: null,
      trash_location: '.lethe-trash/x',
      undo_window: '604800000000',
      purge_after: '1703204800000000',
      request_ref: 'REQ-1',
    },
  ];

  it('fixed vectors: the same text and digest', async () => {
    expect(canonicalLedgerRow(vectors[0]!)).toBe(
      '1:1;36:6f1c1d7e-4a47-4a4b-9a59-0b8e3b0f5d01;5:job-1;7:a/b.pdf;7:General;16:1700000000123456;16:1702592000123456;16:1702600000000000;6:erased;~;~;1:1;~;~;~;~;',
    );
    for (const v of vectors) {
      await db.pool.query(
        `INSERT INTO lethe_ledger (id, run_id, job_id, file_key, purpose_code, created_at, expires_at, erased_at, outcome, error_code, error, policy_version, trash_location, undo_window, purge_after, request_ref)
         VALUES ($1, $2, $3, $4, $5, to_timestamp($6::numeric / 1000000), to_timestamp($7::numeric / 1000000), to_timestamp($8::numeric / 1000000), $9, $10, $11, $12, $13, $14::bigint * interval '1 microsecond', to_timestamp($15::numeric / 1000000), $16)`,
        [
          v.id,
          v.run_id,
          v.job_id,
          v.file_key,
          v.purpose_code,
          v.created_at,
          v.expires_at,
          v.erased_at,
          v.outcome,
          v.error_code,
          v.error,
          v.policy_version,
          v.trash_location,
          v.undo_window,
          v.purge_after,
          v.request_ref,
        ],
      );
    }
    const read = (await db.pool.query<ChainedRow>(`SELECT ${chainedRowSelect('l')} FROM lethe_ledger l ORDER BY id`)).rows;
    expect(read).toEqual(vectors);
    const sql = (await db.pool.query<{ t: string }>(`SELECT lethe_chain_row(l) AS t FROM lethe_ledger l ORDER BY id`)).rows.map((r) => r.t);
    expect(sql).toEqual(vectors.map(canonicalLedgerRow));
    const link = {
      seq: '5',
      run_id: vectors[0]!.run_id!,
      prev_hash: 'a'.repeat(64),
      batch_digest: batchDigest(vectors),
      row_count: 2,
      first_ledger_id: '1',
      last_ledger_id: '2',
    };
    const sqlLink = (
      await db.pool.query<{ h: string; d: string }>(
        `SELECT lethe_chain_link(5, $1::uuid, $2, $3, 2, 1, 2) AS h,
                encode(sha256(convert_to(string_agg(lethe_chain_row(l), '' ORDER BY id), 'UTF8')), 'hex') AS d FROM lethe_ledger l`,
        [link.run_id, link.prev_hash, link.batch_digest],
      )
    ).rows[0]!;
    expect(sqlLink.d).toBe(link.batch_digest);
    expect(sqlLink.h).toBe(linkHash(link));
  });
});
