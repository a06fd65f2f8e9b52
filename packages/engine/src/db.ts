import pg from 'pg';

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
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
