import { AuditActions, writeAudit } from '../db/tables/audit.js';
import { withTransaction, type Queryable } from '../db/pool.js';
import type { Engine } from '../engine.js';
import { ConfigError, ErrorCodes, LetheError } from '../errors.js';
import { inspectJobsTable } from '../db/jobs-table.js';
import { checkPrincipalColumn } from './named-rows.js';
import { parseDue, validateRequestInput, type ErasureRequestInput, type RequestReason, type RequestState, type TargetKind } from './request.js';

/** A stored request, as `lethe requests` and the admin route list it. */
export interface ErasureRequest {
  readonly id: string;
  readonly reference: string;
  readonly target_kind: TargetKind;
  readonly target_values: readonly string[];
  readonly requested_by: string;
  readonly reason: RequestReason;
  readonly note: string | null;
  readonly submitted_by: string;
  readonly received_at: string;
  readonly due_at: string;
  readonly state: RequestState;
  readonly completed_at: string | null;
  readonly last_run_id: string | null;
  /** Open and past its deadline. */
  readonly overdue: boolean;
  /** Seconds to the deadline (negative: overdue); null once completed. */
  readonly seconds_left: number | null;
}

export interface SubmittedRequest extends ErasureRequest {
  /** False: the reference was already stored; this is that request, unchanged (idempotent). */
  readonly created: boolean;
}

const COLUMNS = `id::text, reference, target_kind, target_values, requested_by, reason, note, submitted_by,
  to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS received_at,
  to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS due_at, state,
  to_char(completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS completed_at, last_run_id::text,
  (state = 'open' AND due_at < now()) AS overdue,
  CASE WHEN state = 'open' THEN floor(extract(epoch FROM due_at - now()))::int END AS seconds_left`;

type Row = Omit<ErasureRequest, 'target_kind' | 'reason' | 'state'> & { target_kind: string; reason: string; state: string };
const toRequest = (r: Row): ErasureRequest => r as ErasureRequest;

/**
 * Stores a request, idempotent by reference (docs/rights.md#submitting): the same reference with
 * the same target returns the stored request; with another target it is refused
 * (LETHE_E_REQUEST_CONFLICT), so a ticket can never silently widen or narrow. Writes a
 * `cleanup_erasure_requested` audit row with the request in the same transaction.
 */
export async function submitErasureRequest(engine: Engine, input: ErasureRequestInput): Promise<SubmittedRequest> {
  const o = engine.options.erasure;
  const r = validateRequestInput(input, o);
  if (r.target.kind === 'principal') await checkPrincipalColumn(engine.pool, await inspectJobsTable(engine.pool, engine.options.jobs), o.principalColumn!);
  const due = r.dueAt === undefined ? null : new Date(parseDue(r.dueAt)).toISOString();
  return withTransaction(engine.pool, async (client) => {
    const inserted = await client.query<Row>(
      `INSERT INTO lethe_erasure_requests (reference, target_kind, target_values, requested_by, reason, note, submitted_by, due_at)
       VALUES ($1, $2, $3::text[], $4, $5, $6, $7, coalesce($8::timestamptz, now() + make_interval(days => $9::int)))
       ON CONFLICT (reference) DO NOTHING RETURNING ${COLUMNS}`,
      [r.reference, r.target.kind, r.target.values, r.requestedBy.trim(), r.reason, r.note ?? null, r.submittedBy.trim(), due, o.deadlineDays],
    );
    const row = inserted.rows[0];
    if (row) {
      await writeAudit(client, AuditActions.ERASURE_REQUESTED, {
        reference: r.reference,
        target_kind: r.target.kind,
        target_count: r.target.values.length,
        reason: r.reason,
        requested_by: r.requestedBy,
        by: r.submittedBy,
        due_at: row.due_at,
      });
      return { ...toRequest(row), created: true };
    }
    const existing = (await getRequest(client, r.reference))!;
    if (existing.target_kind !== r.target.kind || existing.target_values.join('\u0000') !== r.target.values.join('\u0000')) {
      throw new LetheError(
        ErrorCodes.REQUEST_CONFLICT,
        `reference: ${JSON.stringify(r.reference)} is already stored for another target (${existing.target_kind} ${existing.target_values.length} value(s), received ${existing.received_at}); a reference names one request: use a new reference`,
      );
    }
    return { ...existing, created: false };
  });
}

export async function getRequest(db: Queryable, reference: string): Promise<ErasureRequest | null> {
  const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM lethe_erasure_requests WHERE reference = $1`, [reference]);
  return rows[0] ? toRequest(rows[0]) : null;
}

export async function requireRequest(db: Queryable, reference: string): Promise<ErasureRequest> {
  const r = await getRequest(db, reference);
  if (!r) throw new LetheError(ErrorCodes.NOT_FOUND, `reference: no erasure request ${JSON.stringify(reference)} (see \`lethe requests --all\`)`);
  return r;
}

export interface ListRequestsFilter {
  /** `open` (default), `overdue`, `completed`, or `all`. */
  readonly state?: 'open' | 'overdue' | 'completed' | 'all';
  readonly limit?: number;
}

/** Requests with their state and time left, most urgent first (open by due date, then the rest newest first). */
export async function listErasureRequests(engine: Pick<Engine, 'pool'>, f: ListRequestsFilter = {}): Promise<ErasureRequest[]> {
  const state = f.state ?? 'open';
  if (!['open', 'overdue', 'completed', 'all'].includes(state))
    throw new ConfigError(`state: expected open, overdue, completed or all, got ${JSON.stringify(f.state)}`);
  const limit = f.limit ?? 500;
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
    throw new ConfigError(`limit: expected an integer from 1 to 10000, got ${JSON.stringify(f.limit)}`);
  const where =
    state === 'open' ? `state = 'open'` : state === 'overdue' ? `state = 'open' AND due_at < now()` : state === 'completed' ? `state = 'completed'` : 'true';
  const { rows } = await engine.pool.query<Row>(
    `SELECT ${COLUMNS} FROM lethe_erasure_requests WHERE ${where}
    ORDER BY (state = 'open') DESC, CASE WHEN state = 'open' THEN due_at END, received_at DESC LIMIT $1`,
    [limit],
  );
  return rows.map(toRequest);
}

/** Open requests past their deadline (health, metrics): served by the partial index on open requests. */
export async function countOverdueRequests(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM lethe_erasure_requests WHERE state = 'open' AND due_at < now()`);
  return rows[0]?.n ?? 0;
}
