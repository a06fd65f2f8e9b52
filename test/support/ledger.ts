import type pg from 'pg';
import { ledgerInsertSql } from '@lethe/engine/testing';

/**
 * Ledger fixtures written the way Lethe writes them: through the append module, so each call is
 * one batch of the hash chain (docs/safety.md#tamper-evident-ledger) and `lethe ledger verify`
 * and `lethe prune` accept them. A test that plays the tamperer inserts into lethe_ledger directly.
 */
export interface LedgerFixtureRow {
  readonly runId?: string;
  readonly jobId: string;
  readonly fileKey: string;
  readonly outcome: string;
  /** An SQL expression for erased_at, e.g. `now() - interval '3 years'`. */
  readonly erasedAtSql?: string;
}

export async function appendLedgerBatch(pool: pg.Pool, rows: readonly LedgerFixtureRow[]): Promise<void> {
  const values = rows
    .map(
      (r, i) =>
        `(coalesce($${4 * i + 1}::uuid, gen_random_uuid()), $${4 * i + 2}::text, $${4 * i + 3}::text, $${4 * i + 4}::text, ${r.erasedAtSql ?? 'now()'})`,
    )
    .join(', ');
  await pool.query(
    ledgerInsertSql({ columns: 'run_id, job_id, file_key, outcome, erased_at', select: `SELECT * FROM (VALUES ${values}) AS v(a, b, c, d, e)` }),
    rows.flatMap((r) => [r.runId ?? null, r.jobId, r.fileKey, r.outcome]),
  );
}

/** Empties the ledger and its chain: the next batch is the chain's first. */
export async function resetLedgerChain(pool: pg.Pool): Promise<void> {
  await pool.query('TRUNCATE lethe_ledger, lethe_ledger_chain');
  await pool.query(
    `UPDATE lethe_ledger_chain_head SET seq = 0, link_hash = repeat('0', 64), anchor_seq = 0, anchor_hash = repeat('0', 64), start_ledger_id = 0, pruned_at = NULL`,
  );
  await pool.query('UPDATE lethe_runs SET chain_seq = NULL, chain_head = NULL, chain_signature = NULL');
}
