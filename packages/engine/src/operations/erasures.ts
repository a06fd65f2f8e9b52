import { streamCursor } from '../db/cursor.js';
import type { Engine } from '../engine.js';
import { ConfigError } from '../errors.js';

/**
 * `lethe erasures` (runbook FM-003 "notify users if many affected", EMERGENCY-002): the
 * ledger's erasures, streamed through a server-side cursor in batches, for a notification job or
 * a spreadsheet. One line per `jobs` row a run (or reconcile) removed: outcomes `erased` (the file
 * went), `absent` (it was already gone) and `trashed` (undo window: moved to the trash). Purges and
 * repairs of the same files are not listed again.
 *
 * Filters narrow by run, policy version and time; `--since` reads the BRIN index on `erased_at`,
 * `--run` the index on `run_id`; `--policy-version` alone scans the ledger (still streamed).
 */
export interface ErasuresFilter {
  readonly runId?: string;
  readonly policyVersion?: number;
  /** ISO date or instant: erasures at or after it. */
  readonly since?: string;
  /** Add the removed `jobs` row (`job_row`, as the ledger kept it) to each line. */
  readonly includeRow?: boolean;
  readonly batchSize?: number;
  readonly signal?: AbortSignal;
}

export interface Erasure {
  readonly file_key: string;
  readonly job_id: string;
  readonly purpose: string | null;
  readonly outcome: string;
  readonly erased_at: string;
  readonly run_id: string;
  readonly policy_version: number | null;
  readonly created_at: string | null;
  readonly expires_at: string | null;
  readonly job_row?: Readonly<Record<string, unknown>> | null;
}

/** The columns of `--format csv`, in order (job_row, when asked, comes last as JSON). */
export const ERASURE_COLUMNS = ['file_key', 'job_id', 'purpose', 'outcome', 'erased_at', 'run_id', 'policy_version', 'created_at', 'expires_at'] as const;

export const ERASED_OUTCOMES = ['erased', 'absent', 'trashed'] as const;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function validateErasuresFilter(f: ErasuresFilter): { runId: string | null; policyVersion: number | null; since: string | null } {
  if (f.runId !== undefined && !UUID_RE.test(f.runId))
    throw new ConfigError(`run: expected a run id like 308966f6-77cc-4bff-ac73-4220b6c9401d, got ${JSON.stringify(f.runId)}`);
  if (f.policyVersion !== undefined && (!Number.isInteger(f.policyVersion) || f.policyVersion < 1)) {
    throw new ConfigError(`policy version: expected a positive integer, got ${JSON.stringify(f.policyVersion)}`);
  }
  let since: string | null = null;
  if (f.since !== undefined) {
    const text = f.since.trim();
    const ms = /^\d{4}-\d{2}-\d{2}$/.test(text) ? Date.parse(`${text}T00:00:00Z`) : /^\d{4}-\d{2}-\d{2}T/.test(text) ? Date.parse(text) : NaN;
    if (Number.isNaN(ms))
      throw new ConfigError(`since: expected a date like 2025-11-30 or an instant like 2025-11-30T02:00:00Z, got ${JSON.stringify(f.since)}`);
    since = new Date(ms).toISOString();
  }
  return { runId: f.runId ?? null, policyVersion: f.policyVersion ?? null, since };
}

type Raw = [string, string, string | null, string, string, string, number | null, string | null, string | null, Record<string, unknown> | null];

const iso = (t: string | null): string | null => (t === null ? null : `${t.replace(' ', 'T')}Z`);

/** Batches of erasures, oldest first (ledger order); memory holds one batch. */
export async function* streamErasures(engine: Engine, f: ErasuresFilter = {}): AsyncGenerator<Erasure[]> {
  const v = validateErasuresFilter(f);
  const fmt = `'YYYY-MM-DD HH24:MI:SS.US'`;
  const sql = `SELECT l.file_key, l.job_id, l.purpose_code, l.outcome,
       to_char(l.erased_at AT TIME ZONE 'UTC', ${fmt}), l.run_id::text, l.policy_version,
       to_char(l.created_at AT TIME ZONE 'UTC', ${fmt}), to_char(l.expires_at AT TIME ZONE 'UTC', ${fmt}),
       ${f.includeRow ? 'l.job_row' : 'NULL::jsonb'}
  FROM lethe_ledger l
 WHERE l.outcome = ANY($1::text[])
   AND ($2::uuid IS NULL OR l.run_id = $2::uuid)
   AND ($3::int IS NULL OR l.policy_version = $3::int)
   AND ($4::timestamptz IS NULL OR l.erased_at >= $4::timestamptz)
 ORDER BY l.id`;
  const values = [[...ERASED_OUTCOMES], v.runId, v.policyVersion, v.since];
  for await (const raw of streamCursor<Raw>(engine.pool, sql, values, {
    batchSize: f.batchSize ?? engine.options.batchSize,
    ...(f.signal ? { signal: f.signal } : {}),
  })) {
    yield raw.map((r) => ({
      file_key: r[0],
      job_id: r[1],
      purpose: r[2],
      outcome: r[3],
      erased_at: iso(r[4])!,
      run_id: r[5],
      policy_version: r[6],
      created_at: iso(r[7]),
      expires_at: iso(r[8]),
      ...(f.includeRow ? { job_row: r[9] } : {}),
    }));
  }
}

/** One CSV line (RFC 4180 quoting), in ERASURE_COLUMNS order. */
export function erasureCsvLine(e: Erasure, includeRow = false): string {
  const cells: unknown[] = ERASURE_COLUMNS.map((c) => e[c]);
  if (includeRow) cells.push(e.job_row === undefined || e.job_row === null ? null : JSON.stringify(e.job_row));
  return cells.map(csvCell).join(',');
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  // A leading = + @ (or - before a non-digit) runs as a formula in a spreadsheet: neutralise it.
  const safe = /^[=+@\t\r]|^-(?!\d)/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) || safe !== s ? `"${safe.replace(/"/g, '""')}"` : safe;
}
