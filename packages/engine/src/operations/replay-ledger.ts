import type { Queryable } from '../db/pool.js';
import { ledgerInsertSql } from '../db/tables/ledger-chain.js';
import type { JournalEntry } from '../journal/entries.js';

/** One re-erasure a replay records: the journal entry it redid, and what storage said of the file. */
export interface ReplayedRow {
  readonly entry: JournalEntry;
  /** `erased` (the file was back and is gone again), `absent` (only the row was back), `kept_shared` (a live row uses the key now). */
  readonly file: 'erased' | 'absent' | 'kept_shared';
  /** The journal object the entry came from. */
  readonly object: string;
}

/**
 * The one place a replay's ledger rows are written (docs/safety.md#erasures-survive-a-backup-restore): outcome `replayed`,
 * the entry's hashed key, purpose, created_at and request reference, the replay's run id, and in
 * `error` what storage said, the original run and the journal object (so the row points back at its evidence). Like every
 * ledger insert, it goes through the hash chain's append (db/tables/ledger-chain.ts, docs/safety.md#tamper-evident-ledger).
 */
export async function writeReplayedLedger(db: Queryable, replayRunId: string, rows: readonly ReplayedRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    ledgerInsertSql({
      columns: 'run_id, job_id, file_key, purpose_code, created_at, outcome, error_code, error, request_ref',
      select: `SELECT $1::uuid, r.job_id, r.file_key, r.purpose, to_timestamp(r.created_ms / 1000), 'replayed', NULL::text, r.note, r.request_ref
                 FROM unnest($2::text[], $3::text[], $4::text[], $5::float8[], $6::text[], $7::text[])
                   AS r(job_id, file_key, purpose, created_ms, note, request_ref)`,
    }),
    [
      replayRunId,
      rows.map((r) => r.entry.job_id),
      rows.map((r) => r.entry.key),
      rows.map((r) => r.entry.purpose),
      rows.map((r) => r.entry.created_ms),
      rows.map((r) => `file ${r.file}; re-erased after a restore: first erased by run ${r.entry.run_id} at ${r.entry.erased_at} (journal ${r.object})`),
      rows.map((r) => r.entry.request_ref),
    ],
  );
}
