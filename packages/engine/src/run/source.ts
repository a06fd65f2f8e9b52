import type pg from 'pg';
import type { JobsTable } from '../db/jobs-table.js';
import type { ExpiredRow } from '../ports.js';
import { streamCursor } from '../db/cursor.js';

/** One purpose's slice of the selection: its policy as a Postgres interval. */
export interface PurposeSelection {
  readonly purpose: string;
  /** e.g. `24 hours`, `1 year`. */
  readonly interval: string;
  /** Month/year intervals clamp days (Jan 31 + 1 month = Feb 28): widen the index range by 3 days. */
  readonly calendar: boolean;
}

/**
 * The expired-row query for one purpose. DESIGN invariant 1: expired means
 * `created_at + retention < cutoff`, which is the exact filter here. The range condition
 * `created_at < cutoff - retention (+ slack)` is what the (purpose_code, created_at) index serves;
 * it is a superset of the exact one, so its cost follows the number of expired rows.
 * Timestamps come back as epoch milliseconds (float8), ids as text: cheap to decode.
 */
export function expiredRowsSql(t: JobsTable): string {
  return expiredSelectSql(t, '', `ORDER BY j.${t.createdAt}`);
}

/**
 * Infinite created_at values are never judged (DESIGN invariant 1): `'-infinity' + retention` is
 * still `-infinity`, before every cutoff, so without this a `-infinity` row counted as expired;
 * `'infinity'` is already past every upper range bound. They are reported as unreadable rows
 * instead (unreadable.ts). As the lower bound of the range it keeps the index scan a range.
 */
export function finiteCreatedAtSql(t: JobsTable): string {
  return `j.${t.createdAt} > '-infinity'`;
}

/**
 * The shared shape of every expired-row read ($1 purpose, $2 interval, $3 cutoff, $4 slack):
 * `extraWhere` narrows it (group claims add skips and shards), `tail` orders and limits it.
 */
export function expiredSelectSql(t: JobsTable, extraWhere: string, tail: string): string {
  return `SELECT j.${t.id}::text, coalesce(j.${t.fileKey}::text, ''),
       (extract(epoch FROM j.${t.createdAt}) * 1000)::float8,
       (extract(epoch FROM j.${t.createdAt} + $2::interval) * 1000)::float8
  FROM ${t.table} j
 WHERE j.${t.purpose} = $1
   AND ${finiteCreatedAtSql(t)}
   AND j.${t.createdAt} < ${t.toColumnTime(`$3::timestamptz - $2::interval + $4::interval`)}
   AND j.${t.createdAt} + $2::interval < ${t.toColumnTime('$3::timestamptz')}
   ${extraWhere}
 ${tail}`;
}

export interface ReadExpiredOptions {
  readonly table: JobsTable;
  readonly purposes: readonly PurposeSelection[];
  /** The run's cutoff, an ISO timestamp read from the database clock. */
  readonly cutoff: string;
  readonly batchSize: number;
  /** Stop after this many rows in all (a `--limit`); undefined for no limit. */
  readonly limit?: number;
  readonly signal?: AbortSignal;
}

type RawRow = [string, string, number, number];

/**
 * Streams expired rows in batches through a server-side cursor, purpose after purpose. Memory
 * holds one batch at a time, whatever the backlog.
 */
export async function* readExpiredRows(pool: pg.Pool, options: ReadExpiredOptions): AsyncGenerator<ExpiredRow[]> {
  const sql = expiredRowsSql(options.table);
  let remaining = options.limit ?? Number.POSITIVE_INFINITY;
  for (const p of options.purposes) {
    if (remaining <= 0 || options.signal?.aborted) break;
    const values = [p.purpose, p.interval, options.cutoff, p.calendar ? '3 days' : '0'];
    for await (const raw of streamCursor<RawRow>(pool, sql, values, {
      batchSize: Math.min(options.batchSize, remaining),
      ...(options.signal ? { signal: options.signal } : {}),
    })) {
      const take = Math.min(raw.length, remaining);
      remaining -= take;
      const batch = new Array<ExpiredRow>(take);
      for (let i = 0; i < take; i++) {
        const r = raw[i]!;
        batch[i] = { id: r[0], fileKey: r[1], purpose: p.purpose, createdAtMs: r[2], expiresAtMs: r[3] };
      }
      yield batch;
      if (remaining <= 0) break;
    }
  }
}
