import pg from 'pg';
import { isUnsentOnLostConnection } from './errors.js';

/** Anything that can run a query: a Pool or a checked-out client. */
export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient | pg.Client;

/**
 * Every Lethe connection runs in UTC (DESIGN "Time"): interval arithmetic on timestamptz and the
 * naive-UTC comparisons both depend on it. Set as a startup parameter, so it holds before the
 * first query and also through poolers that forward startup options.
 */
export function createPool(connectionString: string, max = 8): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    options: '-c TimeZone=UTC',
    application_name: 'lethe',
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 15_000,
  });
  // An idle client that errors (server restart) must not crash the process; the next query fails
  // with a clear error instead.
  pool.on('error', () => {});
  return pool;
}

/** Runs `fn` in a transaction on a pooled client; the client is always released. */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A connection lost mid-transaction fails the next statement; it must not be an uncaught exception.
  let broken: Error | undefined;
  const onError = (error: Error): void => {
    broken = error;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    if (!broken) await client.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw error;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

/**
 * Runs one statement again when it met a lost connection before it could take effect. After a
 * mass termination (failover, pg_terminate_backend) the pool may still hold connections whose
 * backends are going away: each such attempt fails at once and the pool drops that connection.
 */
export async function resendIfUnsent<T>(statement: () => Promise<T>, attempts = 10): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await statement();
    } catch (error) {
      if (attempt >= attempts || !isUnsentOnLostConnection(error)) throw error;
    }
  }
}
