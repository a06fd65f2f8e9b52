import pg from 'pg';
import { ErrorCodes, isUnsentOnLostConnection, LetheError } from '../errors.js';

/** Anything that can run a query: a Pool or a checked-out client. */
export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient | pg.Client;

const UTC_STARTUP_OPTION = '-c TimeZone=UTC';

/**
 * Every Lethe connection runs in UTC (DESIGN "Time"): interval arithmetic on timestamptz (days
 * across a DST change, months at month ends) and the naive-UTC comparisons both depend on it.
 * Two layers, because a DATABASE_URL with its own `?options=-c TimeZone=...` once replaced the
 * startup option and a calendar retention was added in the database's zone (a row went 30 minutes
 * early): the URL's `options` are merged before ours (the last `-c` wins), and every new connection
 * sets and checks UTC before the pool hands it out (`ensureUtcSession`).
 */
export function createPool(connectionString: string, max = 8): pg.Pool {
  const pool = new pg.Pool({
    ...utcConnectionConfig(connectionString),
    max,
    application_name: 'lethe',
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 15_000,
    // pg-pool awaits this before the first query on the connection; a rejection fails that
    // checkout (and closes the connection) instead of running Lethe's queries in another zone.
    onConnect: ensureUtcSession,
  });
  // An idle client that errors (server restart) must not crash the process; the next query fails
  // with a clear error instead.
  pool.on('error', () => {});
  return pool;
}

/**
 * pg lets a connection string's `options` replace the `options` setting, so the URL's own are
 * taken out of it and put before `-c TimeZone=UTC` (PostgreSQL applies startup `-c` in order).
 */
export function utcConnectionConfig(connectionString: string): { readonly connectionString: string; readonly options: string } {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    // Not a URL (pg also takes a socket path): the connect check below still holds.
    return { connectionString, options: UTC_STARTUP_OPTION };
  }
  const own = url.searchParams.getAll('options');
  if (own.length === 0) return { connectionString, options: UTC_STARTUP_OPTION };
  url.searchParams.delete('options');
  return { connectionString: url.toString(), options: [...own, UTC_STARTUP_OPTION].join(' ') };
}

/** Sets the session to UTC and checks it took; run on every new connection Lethe makes. */
export async function ensureUtcSession(client: Pick<pg.ClientBase, 'query'>): Promise<void> {
  let zone: string | undefined;
  try {
    const { rows } = await client.query<{ tz: string }>(`SELECT set_config('TimeZone', 'UTC', false) AS tz`);
    zone = rows[0]?.tz;
  } catch (error) {
    // A lost connection stays what it is (retryable); a refusal by the server is explained.
    if (typeof (error as { severity?: unknown }).severity !== 'string') throw error;
    throw new LetheError(ErrorCodes.SESSION_TIME_ZONE, `${SESSION_ZONE_WHY}; the server refused to set it: ${(error as Error).message}`, { cause: error });
  }
  if (zone !== 'UTC') {
    throw new LetheError(
      ErrorCodes.SESSION_TIME_ZONE,
      `${SESSION_ZONE_WHY}; after setting it the session reports TimeZone ${JSON.stringify(zone)}. Check DATABASE_URL's options and any connection pooler that rewrites session settings`,
    );
  }
}

const SESSION_ZONE_WHY = 'Lethe adds retentions to created_at in UTC and will not run in a database session in another time zone';

/**
 * A pooled client checked out with its error listener attached. A connection that dies while
 * checked out (pg_terminate_backend, failover, server restart) emits 'error', which without a
 * listener is an uncaught exception that kills the process; with it, the error is kept
 * (`broken`), the next statement fails instead, and `release()` destroys the connection rather
 * than handing a dead one back to the pool. Every checkout in Lethe goes through `checkOut`
 * (test/structure/one-checkout.test.ts), so no caller can forget the listener or the release.
 */
export interface CheckedOut {
  readonly client: pg.PoolClient;
  /** The first error the connection emitted or a caller recorded with `fail`; undefined while healthy. */
  readonly broken: Error | undefined;
  /** Records an error that leaves the connection unusable (it is destroyed on release). */
  fail(error: unknown): void;
  /** Removes the listener and returns the client: destroyed when broken, else back to the pool. Once only; later calls do nothing. */
  release(): void;
}

/** Checks a client out of the pool; `onLost` also hears the connection's first error (the run lock stops its run on it). */
export async function checkOut(pool: pg.Pool, onLost?: (error: Error) => void): Promise<CheckedOut> {
  const client = await pool.connect();
  let broken: Error | undefined;
  let released = false;
  const onError = (error: Error): void => {
    if (broken === undefined) onLost?.(error);
    broken ??= error;
  };
  client.on('error', onError);
  return {
    client,
    get broken() {
      return broken;
    },
    fail(error) {
      broken ??= error instanceof Error ? error : new Error(String(error));
    },
    release() {
      if (released) return;
      released = true;
      client.off('error', onError);
      client.release(broken);
    },
  };
}

/** Runs `fn` in a transaction on a pooled client; the client is always released. */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  // A connection lost mid-transaction fails the next statement; it must not be an uncaught exception.
  const c = await checkOut(pool);
  try {
    await c.client.query('BEGIN');
    const result = await fn(c.client);
    await c.client.query('COMMIT');
    return result;
  } catch (error) {
    if (!c.broken) await c.client.query('ROLLBACK').catch((e: unknown) => c.fail(e));
    throw error;
  } finally {
    c.release();
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
