import { createHash } from 'node:crypto';
import { loadSigningKey, signChainHead } from '../../ledger-signing.js';
import type { Queryable } from '../pool.js';

/**
 * The tamper-evident ledger (docs/safety.md#tamper-evident-ledger). Every insert into
 * `lethe_ledger` is built here: the statement inserts the rows and, in the same statement (so the
 * same transaction, no extra round trip), hashes them into one link of a chain:
 *
 *   link_hash = sha256("lethe-chain-v1|" seq "|" run_id "|" prev_hash "|" batch_digest "|" row_count "|" first_id "|" last_id)
 *   batch_digest = sha256(concatenation of the batch's rows, canonical form below, in id order)
 *
 * The head row (`lethe_ledger_chain_head`, one row) is locked before the rows take their ids, so
 * two concurrent writers cannot fork the chain, and a link's rows are exactly the ids from
 * first_id to last_id (a rolled-back batch leaves a gap, never a row of another link).
 * test/structure/ledger-append.test.ts fails when another file inserts into the ledger directly.
 *
 * The canonical row form is defined once, here (`canonicalLedgerRow`), and mirrored by the SQL
 * function `lethe_chain_row` of migration 10; test/ledger/chain.test.ts checks both on fixed
 * vectors. Columns Lethe updates after the fact (`settled_at`, `job_row`, which a purge clears)
 * are not hashed.
 */

export const LEDGER_TABLE = 'lethe_ledger';

/** The hashed columns, in canonical order. Timestamps and intervals travel as epoch microseconds. */
export const CHAINED_COLUMNS = [
  'id',
  'run_id',
  'job_id',
  'file_key',
  'purpose_code',
  'created_at',
  'expires_at',
  'erased_at',
  'outcome',
  'error_code',
  'error',
  'policy_version',
  'trash_location',
  'undo_window',
  'purge_after',
  'request_ref',
] as const;

export type ChainedColumn = (typeof CHAINED_COLUMNS)[number];
/** A ledger row as the chain sees it: every field text (or null), as `CHAINED_ROW_SELECT` reads it. */
export type ChainedRow = Readonly<Record<ChainedColumn, string | null>>;

const MICROS = new Set<ChainedColumn>(['created_at', 'expires_at', 'erased_at', 'purge_after', 'undo_window']);

/** SQL text of one hashed column, as the canonical form wants it (alias `l` for the ledger row). */
function columnText(c: ChainedColumn, alias: string): string {
  if (MICROS.has(c)) return `(extract(epoch FROM ${alias}.${c}) * 1000000)::bigint::text`;
  return `${alias}.${c}::text`;
}

/** A select list reading a ledger row's hashed columns as text (alias `l`). */
export function chainedRowSelect(alias = 'l'): string {
  return CHAINED_COLUMNS.map((c) => `${columnText(c, alias)} AS ${c}`).join(', ');
}

export const GENESIS_HASH = '0'.repeat(64);

/** One field: `~` for NULL, else its UTF-8 byte length, `:`, the text, `;` (no separator can be forged). */
function field(v: string | null): string {
  return v === null ? '~;' : `${Buffer.byteLength(v, 'utf8')}:${v};`;
}

export function canonicalLedgerRow(r: ChainedRow): string {
  return CHAINED_COLUMNS.map((c) => field(r[c])).join('');
}

export function batchDigest(rows: readonly ChainedRow[]): string {
  const h = createHash('sha256');
  for (const r of rows) h.update(canonicalLedgerRow(r), 'utf8');
  return h.digest('hex');
}

export interface ChainLink {
  readonly seq: string;
  readonly run_id: string;
  readonly prev_hash: string;
  readonly batch_digest: string;
  readonly link_hash: string;
  readonly row_count: number;
  readonly first_ledger_id: string;
  readonly last_ledger_id: string;
}

export function linkHash(l: Omit<ChainLink, 'link_hash'>): string {
  const text = ['lethe-chain-v1', l.seq, l.run_id, l.prev_hash, l.batch_digest, String(l.row_count), l.first_ledger_id, l.last_ledger_id].join('|');
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** SQL for the functions of migration 10: the same canonical form as `canonicalLedgerRow` and `linkHash`. */
export const CHAIN_FUNCTIONS_SQL = `
CREATE OR REPLACE FUNCTION lethe_chain_field(v text) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN v IS NULL THEN '~;' ELSE octet_length(v)::text || ':' || v || ';' END $$;
CREATE OR REPLACE FUNCTION lethe_chain_row(l lethe_ledger) RETURNS text LANGUAGE sql STABLE AS
$$ SELECT ${CHAINED_COLUMNS.map((c) => `lethe_chain_field(${columnText(c, 'l')})`).join(' || ')} $$;
CREATE OR REPLACE FUNCTION lethe_chain_link(seq bigint, run_id uuid, prev text, digest text, n integer, first_id bigint, last_id bigint) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT encode(sha256(convert_to(concat_ws('|', 'lethe-chain-v1', seq::text, run_id::text, prev, digest, n::text, first_id::text, last_id::text), 'UTF8')), 'hex') $$;
`;

export interface LedgerInsert {
  /** CTE definitions to put first (`a AS (...), b AS (...)`), without `WITH`. */
  readonly with?: string;
  /** The column list of the insert. */
  readonly columns: string;
  /** A query producing the rows, one column per entry of `columns`. */
  readonly select: string;
  /** The statement's own result, from the inserted rows (`lethe_ledger_ins`) or the caller's CTEs; default their ids. */
  readonly result?: string;
}

/**
 * One statement that inserts ledger rows and appends their link. The select is joined with the
 * locked head row, so the rows take their ids only once this writer holds the head; the head row
 * stays locked to the end of the caller's transaction.
 */
export function ledgerInsertSql(i: LedgerInsert): string {
  const cols = i.columns
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c.length > 0);
  return `WITH ${i.with ? `${i.with},\n` : ''}lethe_chain_lock AS (
  SELECT seq, link_hash FROM lethe_ledger_chain_head WHERE id = 1 FOR UPDATE
), lethe_ledger_ins AS (
  INSERT INTO ${LEDGER_TABLE} (${cols.join(', ')})
  SELECT ${cols.map((_, n) => `s.c${n}`).join(', ')}
    FROM (${i.select}) AS s(${cols.map((_, n) => `c${n}`).join(', ')}) CROSS JOIN lethe_chain_lock
  RETURNING *
), lethe_chain_batch AS (
  SELECT count(*)::integer AS n, min(b.id) AS first_id, max(b.id) AS last_id, (array_agg(b.run_id ORDER BY b.id))[1] AS run_id,
         encode(sha256(convert_to(coalesce(string_agg(lethe_chain_row(b::lethe_ledger), '' ORDER BY b.id), ''), 'UTF8')), 'hex') AS digest
    FROM lethe_ledger_ins b
), lethe_chain_next AS (
  SELECT h.seq + 1 AS seq, h.link_hash AS prev, b.n, b.first_id, b.last_id, b.run_id, b.digest,
         lethe_chain_link(h.seq + 1, b.run_id, h.link_hash, b.digest, b.n, b.first_id, b.last_id) AS link
    FROM lethe_chain_lock h CROSS JOIN lethe_chain_batch b WHERE b.n > 0
), lethe_chain_linked AS (
  INSERT INTO lethe_ledger_chain (seq, run_id, prev_hash, batch_digest, link_hash, row_count, first_ledger_id, last_ledger_id)
  SELECT seq, run_id, prev, digest, link, n, first_id, last_id FROM lethe_chain_next
), lethe_chain_moved AS (
  UPDATE lethe_ledger_chain_head h SET seq = x.seq, link_hash = x.link, updated_at = now() FROM lethe_chain_next x WHERE h.id = 1
)
${i.result ?? 'SELECT id FROM lethe_ledger_ins'}`;
}

/** A run's chain head as `finishRun` records it: the last link its batches appended, and its signature. */
export interface RunChainHead {
  readonly seq: string;
  readonly head: string;
  readonly signature: string | null;
}

/**
 * A run's chain head, read when it ends and signed when a key is configured: one query per run,
 * not per batch. Null when the run wrote no ledger rows. `finishRun` writes it with the run's
 * status, in the same statement.
 */
export async function runChainHead(db: Queryable, runId: string, signingKeyPath: string | null): Promise<RunChainHead | null> {
  const { rows } = await db.query<{ seq: string; link_hash: string }>(
    `SELECT seq::text, link_hash FROM lethe_ledger_chain WHERE run_id = $1::uuid ORDER BY seq DESC LIMIT 1`,
    [runId],
  );
  const last = rows[0];
  if (!last) return null;
  const signature = signingKeyPath === null ? null : signChainHead(loadSigningKey(signingKeyPath), runId, last.seq, last.link_hash);
  return { seq: last.seq, head: last.link_hash, signature };
}
