import { streamCursor } from '../db/cursor.js';
import type { Queryable } from '../db/pool.js';
import type { Engine } from '../engine.js';
import { finiteCreatedAtSql, type PurposeSelection } from '../run/source.js';
import { inspectJobsTable, type JobsTable } from '../db/jobs-table.js';
import { isCalendarRetention, retentionApproxMs, retentionToInterval, type PolicySet, type Retention } from '../policy/retention.js';
import { loadCurrentPolicies } from '../db/tables/policy-versions.js';
import type { UnreadableRows } from '../run/summary.js';
import { findUnreadableRows } from '../run/unreadable.js';
import { policyArrays } from '../db/arrays.js';

/**
 * What expires when (`lethe plan`, runbook OP-007): per purpose, the backlog already expired and the
 * rows expiring in the next day, week, month and quarter; and, for a notification job, a stream
 * of the files expiring inside a window (DPDP Rules 2025: 48 hours' notice before erasure).
 *
 * Every query here reads the (purpose_code, created_at) index range the run's cursor reads, with
 * the exact `created_at + retention` condition on top (DESIGN invariant 1) and naive columns
 * compared with a UTC-converted instant (invariant 2).
 */

/** The database clock as an ISO instant: one "now" for a whole operation (DESIGN "Time"). */
export async function databaseNow(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ now: string }>(`SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS now`);
  return rows[0]!.now;
}

/** Each purpose's policy as the SQL needs it (interval text, and whether months clamp). */
export function policySelections(policies: PolicySet): PurposeSelection[] {
  // Shortest retention first, as the runbook's table lists them.
  return Object.entries(policies)
    .sort(([a, ra], [b, rb]) => retentionApproxMs(ra) - retentionApproxMs(rb) || a.localeCompare(b))
    .map(([purpose, r]) => ({ purpose, interval: retentionToInterval(r), calendar: isCalendarRetention(r) }));
}

/** Slack for the index range: calendar intervals clamp days (Jan 31 + 1 month = Feb 28). */
const slackOf = (p: PurposeSelection): string => (p.calendar ? '3 days' : '0');

function purposeArrays(selections: readonly PurposeSelection[]): [string[], string[], string[]] {
  return [...policyArrays(selections), selections.map(slackOf)];
}

/**
 * Every expired row per purpose at `cutoff`, uncapped, counted over the index range (the run's
 * total estimate and `lethe status`'s backlog; the run's guards count up to a cap instead:
 * countExpiredCapped in run/plan/counts.ts). One round trip; the cost follows the number of expired rows.
 */
export async function countExpiredBacklog(
  db: Queryable,
  t: JobsTable,
  selections: readonly PurposeSelection[],
  cutoff: string,
): Promise<Record<string, number>> {
  if (selections.length === 0) return {};
  const { rows } = await db.query<{ purpose: string; n: string }>(
    `SELECT p.purpose,
            (SELECT count(*) FROM ${t.table} j
              WHERE j.${t.purpose} = p.purpose
                AND ${finiteCreatedAtSql(t)}
                AND j.${t.createdAt} < ${t.toColumnTime(`$4::timestamptz - p.iv + p.slack`)}
                AND j.${t.createdAt} + p.iv < ${t.toColumnTime('$4::timestamptz')}) AS n
       FROM unnest($1::text[], $2::interval[], $3::interval[]) AS p(purpose, iv, slack)`,
    [...purposeArrays(selections), cutoff],
  );
  return Object.fromEntries(rows.map((r) => [r.purpose, Number(r.n)]));
}

/** Windows `lethe plan` counts, cumulative from now (rows already expired are not in them). */
export const PLAN_WINDOWS = [
  { label: '24h', interval: '24 hours' },
  { label: '7d', interval: '7 days' },
  { label: '30d', interval: '30 days' },
  { label: '90d', interval: '90 days' },
] as const;

export type PlanWindow = (typeof PLAN_WINDOWS)[number]['label'];

export interface PurposePlan {
  readonly purpose: string;
  readonly retention: string;
  /** Already expired: the next run deletes these. */
  readonly expired: number;
  /** When the oldest expired row expired (how far behind the backlog is), or null. */
  readonly oldest_expired_at: string | null;
  /** Rows expiring within each window from now (not counting those already expired). */
  readonly expiring: Readonly<Record<PlanWindow, number>>;
  /** The next expiry after now, however far away, or null when nothing is waiting. */
  readonly next_expiry_at: string | null;
}

export interface ExpiryPlan {
  readonly checked_at: string;
  readonly policy_version: number;
  readonly purposes: readonly PurposePlan[];
  /** Rows no policy judges (unknown purpose, no created_at): never deleted, listed to be fixed. */
  readonly unreadable: readonly UnreadableRows[];
}

const epochMsToIso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** Per purpose: the backlog, the windows, and the next expiry. One statement for all purposes. */
export async function planExpiries(engine: Engine): Promise<ExpiryPlan> {
  const db = engine.pool;
  const t = await inspectJobsTable(db, engine.options.jobs);
  const policy = await loadCurrentPolicies(db);
  const now = await databaseNow(db);
  const selections = policySelections(policy.policies);
  const at = (shift: string): string => t.toColumnTime(`$4::timestamptz + interval '${shift}'`);
  const nowCol = t.toColumnTime('$4::timestamptz');
  const expiry = `j.${t.createdAt} + p.iv`;
  const last = PLAN_WINDOWS[PLAN_WINDOWS.length - 1]!.interval;
  const { rows } = await db.query<Record<string, string | number | null> & { purpose: string }>(
    `SELECT p.purpose, c.*,
            (SELECT (extract(epoch FROM ${expiry}) * 1000)::float8 FROM ${t.table} j
              WHERE j.${t.purpose} = p.purpose AND j.${t.createdAt} >= ${t.toColumnTime(`$4::timestamptz - p.iv - p.slack`)} AND j.${t.createdAt} < 'infinity' AND ${expiry} >= ${nowCol}
              ORDER BY j.${t.createdAt} LIMIT 1) AS next_ms,
            (SELECT (extract(epoch FROM ${expiry}) * 1000)::float8 FROM ${t.table} j
              WHERE j.${t.purpose} = p.purpose AND ${finiteCreatedAtSql(t)} AND ${expiry} < ${nowCol}
              ORDER BY j.${t.createdAt} LIMIT 1) AS oldest_ms
       FROM unnest($1::text[], $2::interval[], $3::interval[]) AS p(purpose, iv, slack)
       CROSS JOIN LATERAL (
         SELECT count(*) FILTER (WHERE ${expiry} < ${nowCol}) AS expired,
                ${PLAN_WINDOWS.map((w) => `count(*) FILTER (WHERE ${expiry} >= ${nowCol} AND ${expiry} < ${at(w.interval)}) AS "w_${w.label}"`).join(',\n                ')}
           FROM ${t.table} j
          WHERE j.${t.purpose} = p.purpose AND ${finiteCreatedAtSql(t)} AND j.${t.createdAt} < ${t.toColumnTime(`$4::timestamptz + interval '${last}' - p.iv + p.slack`)}
       ) c`,
    [...purposeArrays(selections), now],
  );
  const purposes = rows.map((r): PurposePlan => ({
    purpose: r.purpose,
    retention: retentionToInterval(policy.policies[r.purpose] as Retention),
    expired: Number(r.expired),
    oldest_expired_at: epochMsToIso(r.oldest_ms === null ? null : Number(r.oldest_ms)),
    expiring: Object.fromEntries(PLAN_WINDOWS.map((w) => [w.label, Number(r[`w_${w.label}`])])) as Record<PlanWindow, number>,
    next_expiry_at: epochMsToIso(r.next_ms === null ? null : Number(r.next_ms)),
  }));
  const unreadable = await findUnreadableRows(db, t, Object.keys(policy.policies), engine.options.unreadableCountCap);
  return { checked_at: now, policy_version: policy.version, purposes, unreadable };
}

/** One file expiring inside the window: a notification job's input line. */
export interface ExpiringFile {
  readonly job_id: string;
  readonly file_key: string;
  readonly purpose: string;
  readonly created_at: string;
  readonly expires_at: string;
  readonly expires_in_seconds: number;
}

export interface ExpiringWithinOptions {
  /** The window as a Postgres interval, e.g. `48 hours` (see retentionToInterval). */
  readonly within: string;
  readonly batchSize?: number;
  readonly signal?: AbortSignal;
}

type RawExpiring = [string, string, string, number, number, number];

/**
 * Rows that are not expired yet and will be within the window, soonest first, streamed through a
 * server-side cursor in batches (memory holds one batch whatever the window holds).
 */
export async function* expiringWithin(engine: Engine, o: ExpiringWithinOptions): AsyncGenerator<ExpiringFile[]> {
  const db = engine.pool;
  const t = await inspectJobsTable(db, engine.options.jobs);
  const policy = await loadCurrentPolicies(db);
  const selections = policySelections(policy.policies);
  if (selections.length === 0) return;
  const expiry = `j.${t.createdAt} + p.iv`;
  const sql = `SELECT j.${t.id}::text, coalesce(j.${t.fileKey}::text, ''), p.purpose,
       (extract(epoch FROM j.${t.createdAt}) * 1000)::float8,
       (extract(epoch FROM ${expiry}) * 1000)::float8,
       (extract(epoch FROM now()) * 1000)::float8
  FROM unnest($1::text[], $2::interval[], $3::interval[]) AS p(purpose, iv, slack)
  JOIN ${t.table} j ON j.${t.purpose} = p.purpose
   AND j.${t.createdAt} >= ${t.toColumnTime('now() - p.iv - p.slack')}
   AND j.${t.createdAt} < ${t.toColumnTime('now() + $4::interval - p.iv + p.slack')}
 WHERE ${expiry} >= ${t.toColumnTime('now()')} AND ${expiry} < ${t.toColumnTime('now() + $4::interval')}
 ORDER BY ${expiry}, j.${t.id}`;
  // One read-only transaction, so now() is one instant for the whole stream.
  const values = [...purposeArrays(selections), o.within];
  for await (const raw of streamCursor<RawExpiring>(engine.pool, sql, values, {
    batchSize: o.batchSize ?? engine.options.batchSize,
    readOnlyTransaction: true,
    ...(o.signal ? { signal: o.signal } : {}),
  })) {
    yield raw.map((r) => ({
      job_id: r[0],
      file_key: r[1],
      purpose: r[2],
      created_at: new Date(r[3]).toISOString(),
      expires_at: new Date(r[4]).toISOString(),
      expires_in_seconds: Math.round((r[4] - r[5]) / 1000),
    }));
  }
}
