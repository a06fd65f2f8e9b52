import type pg from 'pg';
import Cursor from 'pg-cursor';
import type { JobsTable } from './jobs-table.js';
import type { ExpiredRow } from './ports.js';

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
 * The shared shape of every expired-row read ($1 purpose, $2 interval, $3 cutoff, $4 slack):
 * `extraWhere` narrows it (group claims add skips and shards), `tail` orders and limits it.
 */
export function expiredSelectSql(t: JobsTable, extraWhere: string, tail: string): string {
  return `SELECT j.${t.id}::text, coalesce(j.${t.fileKey}::text, ''),
       (extract(epoch FROM j.${t.createdAt}) * 1000)::float8,
       (extract(epoch FROM j.${t.createdAt} + $2::interval) * 1000)::float8
  FROM ${t.table} j
 WHERE j.${t.purpose} = $1
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
 * Streams expired rows in batches through a server-side cursor on one dedicated connection,
 * purpose after purpose. Memory holds one batch at a time, whatever the backlog.
 */
export async function* readExpiredRows(pool: pg.Pool, options: ReadExpiredOptions): AsyncGenerator<ExpiredRow[]> {
  const sql = expiredRowsSql(options.table);
  let remaining = options.limit ?? Number.POSITIVE_INFINITY;
  const client = await pool.connect();
  let broken: Error | undefined;
  // A checked-out client whose connection dies (pg_terminate_backend, a failover) emits 'error':
  // without a listener that is an uncaught exception that kills the process (issue 7 fault proof).
  const onError = (error: Error): void => {
    broken ??= error;
  };
  client.on('error', onError);
  try {
    for (const p of options.purposes) {
      if (remaining <= 0 || options.signal?.aborted) break;
      const cursor = client.query(new Cursor<RawRow>(sql, [p.purpose, p.interval, options.cutoff, p.calendar ? '3 days' : '0'], { rowMode: 'array' }));
      try {
        while (remaining > 0 && !options.signal?.aborted) {
          const raw = await cursor.read(Math.min(options.batchSize, remaining)).catch((error: Error) => {
            broken ??= error;
            throw error;
          });
          if (raw.length === 0) break;
          remaining -= raw.length;
          const batch = new Array<ExpiredRow>(raw.length);
          for (let i = 0; i < raw.length; i++) {
            const r = raw[i]!;
            batch[i] = { id: r[0], fileKey: r[1], purpose: p.purpose, createdAtMs: r[2], expiresAtMs: r[3] };
          }
          yield batch;
        }
      } finally {
        // Closing a cursor waits for the server's ReadyForQuery, which a failed or dead connection
        // never sends: such a connection is destroyed on release instead of closed politely.
        if (!broken) await closeCursor(client, cursor).catch((error: Error) => (broken ??= error));
      }
    }
  } catch (error) {
    broken ??= error as Error;
    throw error;
  } finally {
    client.off('error', onError);
    // A connection that failed mid-cursor is not returned to the pool for reuse.
    client.release(broken);
  }
}

/** `cursor.close()`, unless the connection ends first (then its ReadyForQuery never comes). */
function closeCursor(client: pg.PoolClient, cursor: Cursor<RawRow>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onEnd = (): void => reject(new Error('the database connection ended while closing the expired-rows cursor'));
    client.once('end', onEnd);
    cursor.close().then(
      () => {
        client.off('end', onEnd);
        resolve();
      },
      (error: Error) => {
        client.off('end', onEnd);
        reject(error);
      },
    );
  });
}
