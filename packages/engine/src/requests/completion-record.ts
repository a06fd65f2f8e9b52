import type { Engine } from '../engine.js';
import type { ErasureRequest } from './request-store.js';

/**
 * A request's completion record (docs/rights.md#the-reply): what was erased, when, what was
 * refused and why, from the ledger rows that carry its reference. Printable as the reply to the
 * data principal (`lethe requests show <ref> --reply`); its JSON is the `cleanup_erasure_completed`
 * audit row.
 */
export interface CompletionRecord {
  readonly reference: string;
  readonly reason: string;
  readonly requested_by: string;
  readonly received_at: string;
  readonly due_at: string;
  readonly state: string;
  readonly completed_at: string | null;
  readonly overdue: boolean;
  /** Rows erased with their file (ledger erased, absent, trashed). */
  readonly rows_erased: number;
  readonly files_erased: number;
  /** Rows erased whose file stays because other rows share it (ledger `unlinked`). */
  readonly rows_unlinked: number;
  /** Rows kept under a statute, per purpose. */
  readonly retained: readonly { readonly purpose: string; readonly statute: string; readonly rows: number }[];
  /** Rows kept because their file is under a legal hold. */
  readonly held_rows: number;
  readonly first_erased_at: string | null;
  readonly last_erased_at: string | null;
  readonly runs: readonly string[];
  readonly processors: readonly {
    readonly processor: string;
    readonly status: string;
    readonly sent_at: string | null;
    readonly acknowledged_at: string | null;
  }[];
}

const TS = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

export async function completionRecord(engine: Pick<Engine, 'pool'>, r: ErasureRequest): Promise<CompletionRecord> {
  const [counts, retained, notices] = await Promise.all([
    engine.pool.query<{ erased: number; files: number; unlinked: number; held: number; first: string | null; last: string | null; runs: string[] }>(
      `SELECT count(*) FILTER (WHERE outcome IN ('erased', 'absent', 'trashed'))::int AS erased,
              count(DISTINCT file_key) FILTER (WHERE outcome IN ('erased', 'absent', 'trashed'))::int AS files,
              count(*) FILTER (WHERE outcome = 'unlinked')::int AS unlinked,
              count(DISTINCT job_id) FILTER (WHERE outcome = 'held')::int AS held,
              to_char(min(erased_at) FILTER (WHERE outcome IN ('erased', 'absent', 'trashed', 'unlinked')) AT TIME ZONE 'UTC', ${TS}) AS first,
              to_char(max(erased_at) FILTER (WHERE outcome IN ('erased', 'absent', 'trashed', 'unlinked')) AT TIME ZONE 'UTC', ${TS}) AS last,
              coalesce(array_agg(DISTINCT run_id::text), '{}') AS runs
         FROM lethe_ledger WHERE request_ref = $1`,
      [r.reference],
    ),
    // The latest verdict per row: a row refused in two runs counts once.
    engine.pool.query<{ purpose: string; statute: string; rows: number }>(
      `SELECT coalesce(purpose_code, '') AS purpose, coalesce(error, '') AS statute, count(DISTINCT job_id)::int AS rows
         FROM lethe_ledger WHERE request_ref = $1 AND outcome = 'retained' GROUP BY 1, 2 ORDER BY 1`,
      [r.reference],
    ),
    engine.pool.query<{ processor: string; status: string; sent_at: string | null; acknowledged_at: string | null }>(
      `SELECT processor, status, to_char(sent_at AT TIME ZONE 'UTC', ${TS}) AS sent_at, to_char(acknowledged_at AT TIME ZONE 'UTC', ${TS}) AS acknowledged_at
         FROM lethe_erasure_notices WHERE request_id = $1 ORDER BY processor`,
      [r.id],
    ),
  ]);
  const c = counts.rows[0]!;
  return {
    reference: r.reference,
    reason: r.reason,
    requested_by: r.requested_by,
    received_at: r.received_at,
    due_at: r.due_at,
    state: r.state,
    completed_at: r.completed_at,
    overdue: r.overdue,
    rows_erased: c.erased,
    files_erased: c.files,
    rows_unlinked: c.unlinked,
    retained: retained.rows,
    held_rows: c.held,
    first_erased_at: c.first,
    last_erased_at: c.last,
    runs: c.runs.filter((x) => x !== null),
    processors: notices.rows,
  };
}
