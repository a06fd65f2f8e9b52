import type pg from 'pg';
import { ErrorCodes, LetheError, RunInProgressError } from '../errors.js';
import type { Clock } from '../ports.js';
import { checkOut } from '../db/pool.js';

/** One run at a time per database: a session advisory lock on a connection held for the run. */
export const RUN_LOCK_KEY = 0x4c455448_00000002n.toString(); // "LETH" + 2

export interface RunLock {
  /** Aborted when the lock's connection is lost: the run must stop (DESIGN "One run at a time"). */
  readonly lost: AbortSignal;
  readonly client: pg.PoolClient;
  release(): Promise<void>;
}

export interface AcquireOptions {
  /** How long to wait for a run in progress to end; 0 refuses at once. */
  readonly waitMs: number;
  readonly clock: Clock;
  readonly signal?: AbortSignal;
  /** Workers of one group share the lock; a solo run takes it alone, so the two never overlap. */
  readonly shared?: boolean;
}

export async function acquireRunLock(pool: pg.Pool, options: AcquireOptions): Promise<RunLock> {
  const lost = new AbortController();
  const c = await checkOut(pool, (error) => {
    lost.abort(new LetheError(ErrorCodes.LOCK_LOST, `the run lock's database connection was lost (${error.message}); the run stops`, { cause: error }));
  });
  const { client } = c;
  const deadline = options.clock.now() + options.waitMs;
  try {
    for (;;) {
      const fn = options.shared ? 'pg_try_advisory_lock_shared' : 'pg_try_advisory_lock';
      const { rows } = await client.query<{ ok: boolean }>(`SELECT ${fn}($1) AS ok`, [RUN_LOCK_KEY]);
      if (rows[0]?.ok) break;
      if (options.clock.now() >= deadline || options.signal?.aborted) {
        throw new RunInProgressError(
          options.waitMs > 0
            ? `another Lethe run is still in progress on this database after waiting ${Math.round(options.waitMs / 1000)}s; try again when it ends`
            : undefined,
        );
      }
      await options.clock.sleep(Math.min(500, Math.max(0, deadline - options.clock.now())), options.signal);
    }
  } catch (error) {
    c.release();
    throw error;
  }
  return {
    lost: lost.signal,
    client,
    async release() {
      if (!c.broken) {
        await client
          .query(options.shared ? 'SELECT pg_advisory_unlock_shared($1)' : 'SELECT pg_advisory_unlock($1)', [RUN_LOCK_KEY])
          .catch((e: unknown) => c.fail(e));
      }
      c.release();
    },
  };
}
