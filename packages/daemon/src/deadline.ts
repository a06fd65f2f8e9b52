import type { Clock } from './ports.js';

/**
 * Waits for `work` until `deadlineMs` on the clock: true if it settled in time (resolved or
 * rejected: shutdown steps report their own errors), false if the deadline came first. The timer
 * is cancelled either way, so it never holds the process open.
 */
export async function settlesBefore(clock: Clock, deadlineMs: number, work: Promise<unknown>): Promise<boolean> {
  const cancel = new AbortController();
  const settled = work.then(
    () => true,
    () => true,
  );
  const timedOut = clock.sleep(Math.max(0, deadlineMs - clock.now()), cancel.signal).then(() => false);
  try {
    return await Promise.race([settled, timedOut]);
  } finally {
    cancel.abort();
  }
}
