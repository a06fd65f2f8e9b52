import type pg from 'pg';
import type { ResolvedOptions } from '../options.js';
import { acquireRunLock } from './lock.js';

/** Operators' commands wait this long by default: a run that just ended may hold the lock a moment longer. */
export const OPERATION_LOCK_WAIT_MS = 5000;

/**
 * Runs `fn` holding the run lock, so operations that move or delete files (purge, restore,
 * ledger repair) never overlap a run or each other (DESIGN "One run at a time").
 */
export async function withRunLock<T>(
  pool: pg.Pool,
  options: ResolvedOptions,
  fn: () => Promise<T>,
  waitMs = Math.max(options.lockWaitMs, OPERATION_LOCK_WAIT_MS),
): Promise<T> {
  const lock = await acquireRunLock(pool, { waitMs, clock: options.clock });
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
