import type { Clock } from './ports.js';

/**
 * Sleeps on the Clock port but wakes as soon as `signal` aborts, whether or not the clock honours
 * the signal (a fake clock's sleep does not). Never rejects.
 */
export function sleepUnlessAborted(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const onAbort = (): void => resolve();
    signal.addEventListener('abort', onAbort, { once: true });
    void clock.sleep(ms, signal).then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      () => resolve(),
    );
  });
}
