import { numberArray, textArray } from '../db/arrays.js';
import type { Queryable } from '../db/pool.js';
import type { JobsTable } from '../db/jobs-table.js';
import type { LedgerKeyFn } from '../policy/ledger-keys.js';
import type { ExpiredRow, OutcomeKind } from '../ports.js';
import { ledgerInsertSql } from '../db/tables/ledger-chain.js';

/**
 * Ledger outcomes only an erasure request writes (docs/rights.md): `unlinked` (the row was erased,
 * its file kept because other rows share it), `retained` (kept under a statute, in `error`) and
 * `held` (kept under a legal hold). The first removes the job row; the other two keep it.
 */
export type RequestOutcomeKind = 'unlinked' | 'retained' | 'held';

/** One row's outcome, as the outcome writer records it. */
export interface RowOutcome {
  readonly row: ExpiredRow;
  readonly outcome: OutcomeKind | RequestOutcomeKind;
  readonly code?: string | undefined;
  readonly message?: string | undefined;
  /** Undo window: the file was moved to this trash location (ledger outcome `trashed`), kept for `undoWindow`. */
  readonly trash?: string | undefined;
  readonly undoWindow?: string | undefined;
}

export interface WriteOutcomesResult {
  /**
   * Ids of rows whose file is gone (erased, absent, trashed) but whose job row this statement did
   * not find: someone else (another worker, a concurrent restore) removed it first, so it got no
   * ledger row here and must not be counted. Nearly always empty: the statement returns only
   * these, not one row per outcome.
   */
  readonly notRemoved: ReadonlySet<string>;
}

/**
 * The outcome writer: one statement (so one transaction) per batch. It deletes the job rows of
 * erased and absent files and inserts their ledger rows, copying the removed row's content for
 * restores. Failed and refused keys keep their job rows and get a ledger row with the error code.
 *
 * It runs in the batch's transaction, under the row locks of its re-check (recheck.ts), so
 * the rows it removes are exactly the rows as re-read, and it removes the batch's intent row.
 *
 * DESIGN invariant 5: storage first, then this. A crash before it leaves rows whose files are
 * gone; the rerun finds them absent and records them then. A row already removed by someone else
 * (another worker, a concurrent restore) gets no second ledger row.
 */
export function writeOutcomesSql(t: JobsTable, o: { readonly stripFileKey?: boolean } = {}): string {
  // HMAC mode: the removed row's content is kept for restores, but not its file_key.
  const jobRow = o.stripFileKey ? `to_jsonb(j) - '${t.names.fileKey}'` : 'to_jsonb(j)';
  const $ = param;
  // `id = ANY(removable)` probes the primary key per id; a join on unnest() hash-scans the table
  // instead (measured 4x slower per 1000-row batch).
  return ledgerInsertSql({
    with: `o AS (
  SELECT * FROM unnest(${$('jobIds')}::text[], ${$('fileKeys')}::text[], ${$('purposes')}::text[], ${$('createdMs')}::float8[], ${$('expiresMs')}::float8[], ${$('outcomes')}::text[], ${$('errorCodes')}::text[], ${$('errors')}::text[], ${$('trash')}::text[], ${$('undo')}::text[])
    AS o(job_id, file_key, purpose, created_ms, expires_ms, outcome, error_code, error, trash, undo)
), d AS (
  DELETE FROM ${t.table} j WHERE j.${t.id} = ANY(${$('removable')}::text[]::${t.idType}[])
  RETURNING j.${t.id}::text AS job_id, ${jobRow} AS job_row
), i AS (
  DELETE FROM lethe_inflight WHERE id = ${$('intentId')}::bigint
)`,
    columns:
      'run_id, job_id, file_key, purpose_code, created_at, expires_at, outcome, error_code, error, policy_version, job_row, trash_location, undo_window, purge_after, request_ref',
    select: `SELECT ${$('runId')}::uuid, o.job_id, o.file_key, o.purpose, to_timestamp(o.created_ms / 1000), to_timestamp(o.expires_ms / 1000),
         o.outcome, o.error_code, o.error, ${$('policyVersion')}::integer, d.job_row, o.trash, o.undo::interval, now() + o.undo::interval, ${$('requestRef')}::text
    FROM o LEFT JOIN d ON d.job_id = o.job_id
   WHERE d.job_id IS NOT NULL OR o.outcome NOT IN ('erased', 'absent', 'trashed', 'unlinked')`,
    result: `SELECT o.job_id FROM o LEFT JOIN d ON d.job_id = o.job_id
 WHERE d.job_id IS NULL AND o.outcome IN ('erased', 'absent', 'trashed', 'unlinked')`,
  });
}

/**
 * The outcome statement's parameters, by name, in the order they are sent: the statement's text
 * and its values are both built from this one list, so a parameter cannot be used out of order.
 */
export const OUTCOME_PARAMS = [
  'jobIds',
  'fileKeys',
  'purposes',
  'createdMs',
  'expiresMs',
  'outcomes',
  'errorCodes',
  'errors',
  'runId',
  'policyVersion',
  'removable',
  'trash',
  'undo',
  'intentId',
  'requestRef',
] as const;

export type OutcomeParam = (typeof OUTCOME_PARAMS)[number];

/** `$n` for a named parameter of the outcome statement. */
function param(name: OutcomeParam): string {
  return `$${OUTCOME_PARAMS.indexOf(name) + 1}`;
}

/** The statement's values, in OUTCOME_PARAMS order. */
export function outcomeValues(values: Readonly<Record<OutcomeParam, unknown>>): unknown[] {
  return OUTCOME_PARAMS.map((name) => values[name]);
}

/** What one batch's outcome statement records. */
export interface OutcomeWrite {
  readonly runId: string;
  readonly policyVersion: number;
  readonly outcomes: readonly RowOutcome[];
  /** How file keys are written to the ledger (plain, or HMACs); default plain. */
  readonly ledgerKey?: LedgerKeyFn | undefined;
  /** The batch's intent row (lethe_inflight), removed in the same statement; null when none was written. */
  readonly intentId?: string | null;
  /** The erasure request this batch serves (docs/rights.md): every ledger row carries its reference. */
  readonly requestRef?: string | null;
}

export async function writeOutcomes(db: Queryable, sql: string, w: OutcomeWrite): Promise<WriteOutcomesResult> {
  const { outcomes } = w;
  const ledgerKey = w.ledgerKey ?? ((k: string) => k);
  const n = outcomes.length;
  const ids = new Array<string>(n);
  const keys = new Array<string>(n);
  const purposes = new Array<string>(n);
  const created = new Array<number>(n);
  const expires = new Array<number>(n);
  const kinds = new Array<string>(n);
  const codes = new Array<string | null>(n);
  const removable: string[] = [];
  const messages = new Array<string | null>(n);
  const trash = new Array<string | null>(n);
  const undo = new Array<string | null>(n);
  for (let i = 0; i < n; i++) {
    const o = outcomes[i]!;
    ids[i] = o.row.id;
    keys[i] = ledgerKey(o.row.fileKey);
    purposes[i] = o.row.purpose;
    created[i] = o.row.createdAtMs;
    expires[i] = o.row.expiresAtMs;
    // A file moved into the trash (undo window) is `trashed` in the ledger until purged.
    kinds[i] = o.trash !== undefined && (o.outcome === 'erased' || o.outcome === 'absent') ? 'trashed' : o.outcome;
    trash[i] = kinds[i] === 'trashed' ? o.trash! : null;
    undo[i] = kinds[i] === 'trashed' ? (o.undoWindow ?? null) : null;
    if (o.outcome === 'erased' || o.outcome === 'absent' || o.outcome === 'unlinked') removable.push(o.row.id);
    codes[i] = o.code ?? null;
    messages[i] = o.message === undefined ? null : o.message.slice(0, 500);
  }
  const { rows } = await db.query<{ job_id: string }>(
    sql,
    outcomeValues({
      jobIds: textArray(ids),
      fileKeys: textArray(keys),
      purposes: textArray(purposes),
      createdMs: numberArray(created),
      expiresMs: numberArray(expires),
      outcomes: textArray(kinds),
      errorCodes: textArray(codes),
      errors: textArray(messages),
      runId: w.runId,
      policyVersion: w.policyVersion,
      removable: textArray(removable),
      trash: textArray(trash),
      undo: textArray(undo),
      intentId: w.intentId ?? null,
      requestRef: w.requestRef ?? null,
    }),
  );
  return { notRemoved: new Set(rows.map((r) => r.job_id)) };
}
