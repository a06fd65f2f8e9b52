import type pg from 'pg';
import Cursor from 'pg-cursor';
import { checkOut } from './pool.js';

export interface CursorStreamOptions {
  readonly batchSize: number;
  readonly signal?: AbortSignal;
  /** Run the cursor inside `BEGIN READ ONLY` (one snapshot, one now()), rolled back at the end. */
  readonly readOnlyTransaction?: boolean;
}

/**
 * Streams a query's rows in batches through a server-side cursor (pg-cursor, row arrays) on one
 * dedicated connection; memory holds one batch. The connection is always released: politely when
 * healthy, destroyed when it failed (checkOut keeps a connection that dies while checked out from
 * becoming an uncaught exception), and closing a cursor does not wait for a ReadyForQuery that a
 * dead connection never sends (the fault proof found both). A consumer that stops early (break) lands in the same cleanup.
 */
export async function* streamCursor<R extends unknown[]>(pool: pg.Pool, sql: string, values: readonly unknown[], o: CursorStreamOptions): AsyncGenerator<R[]> {
  const c = await checkOut(pool);
  const { client } = c;
  let cursor: Cursor<R> | undefined;
  try {
    if (o.readOnlyTransaction) await client.query('BEGIN READ ONLY');
    cursor = client.query(new Cursor<R>(sql, [...values], { rowMode: 'array' }));
    while (!o.signal?.aborted) {
      const rows = await cursor.read(o.batchSize).catch((error: unknown) => {
        c.fail(error);
        throw error;
      });
      if (rows.length === 0) break;
      yield rows;
    }
  } catch (error) {
    c.fail(error);
    throw error;
  } finally {
    if (cursor && !c.broken) await closeCursor(client, cursor).catch((error: unknown) => c.fail(error));
    if (o.readOnlyTransaction && !c.broken) await client.query('ROLLBACK').catch((error: unknown) => c.fail(error));
    c.release();
  }
}

/** `cursor.close()`, unless the connection ends first (then its ReadyForQuery never comes). */
function closeCursor<R>(client: pg.PoolClient, cursor: Cursor<R>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onEnd = (): void => reject(new Error('the database connection ended while closing a cursor'));
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
