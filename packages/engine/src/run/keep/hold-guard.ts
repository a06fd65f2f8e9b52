import type pg from 'pg';
import { withTransaction, type Queryable } from '../../db/pool.js';
import { HELD_KEYS_SQL } from '../../db/tables/holds.js';

/**
 * Legal holds (docs/safety.md#legal-holds) re-checked at the moment of acting, for operations that remove files or
 * rows outside a run (`lethe reconcile --apply`, `lethe verify --ledger --repair`). A check made
 * while scanning is not enough: a hold placed between the scan and the delete must still win.
 */

/**
 * The keys among `keys` under an active hold now (plain keys: holds never store HMACs).
 * HELD_KEYS_SQL numbers its parameters $1 (keys) and $4 (the instant); $2 and $3 are typed here
 * only so the statement prepares. `'now'` is the transaction's start, so inside
 * `withHoldsLocked` a hold is judged as of the moment the lock was asked for, never later.
 */
export async function heldKeysNow(db: Queryable, keys: readonly string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const { rows } = await db.query<{ k: string }>(`SELECT h.k FROM (${HELD_KEYS_SQL}) h, (SELECT $2::text, $3::text) AS unused_params`, [
    [...new Set(keys)],
    null,
    null,
    'now',
  ]);
  return new Set(rows.map((r) => r.k));
}

/** How long acting waits for a transaction that is placing or releasing a hold. */
const HOLD_LOCK_TIMEOUT = '30s';

/**
 * Runs `act` in a transaction holding `lethe_holds` in SHARE mode: it conflicts with the ROW
 * EXCLUSIVE lock every INSERT and UPDATE of a hold takes, so no hold can be placed or released
 * from the check inside `act` (with `heldKeysNow` on the client it gets) until `act` has deleted.
 * A hold placed meanwhile waits and lands after: on a file that is gone, never on a half-acted one.
 * Plain reads of holds (the runs' per-batch guards) are not blocked. Keep `act` to one batch.
 */
export async function withHoldsLocked<T>(pool: pg.Pool, act: (db: pg.PoolClient) => Promise<T>): Promise<T> {
  return withTransaction(pool, async (client) => {
    await lockHolds(client);
    return act(client);
  });
}

/**
 * The lock of `withHoldsLocked`, in the caller's transaction. A caller that also deletes `jobs`
 * rows locks them first (FOR UPDATE), then this: `placeHold` locks a row of the key, then inserts
 * into lethe_holds, so the same order (rows, then holds) never deadlocks with it.
 */
export async function lockHolds(client: pg.PoolClient): Promise<void> {
  await client.query(`SET LOCAL lock_timeout = '${HOLD_LOCK_TIMEOUT}'`);
  await client.query('LOCK TABLE lethe_holds IN SHARE MODE');
}
