import { describe, expect, it } from 'vitest';
import type { Clock } from '../ports.js';
import { keyPrefix, RunDeleteLimiter } from './rate-limiter.js';

/** A clock whose sleeps pass at once and move time on by what they asked. */
function steppingClock(): Clock & { readonly elapsedMs: () => number } {
  let now = 0;
  return { now: () => now, sleep: async (ms: number) => void (now += ms), elapsedMs: () => now };
}

/** `batches` batches of 1000 keys, spread evenly over `prefixes` prefixes. */
function batches(count: number, prefixes: number): string[][] {
  return Array.from({ length: count }, (_, b) => Array.from({ length: 1000 }, (_, i) => `p${i % prefixes}/${b}-${i}.pdf`));
}

async function secondsFor(limiter: RunDeleteLimiter, clock: ReturnType<typeof steppingClock>, work: string[][]): Promise<number> {
  for (const keys of work) await limiter.admit(keys);
  return clock.elapsedMs() / 1000;
}

describe('RunDeleteLimiter (docs/storage-s3.md#throttling)', () => {
  it('holds keys under one prefix to that prefix budget: 70k keys at 3,500/s take 19 s after the first burst', async () => {
    const clock = steppingClock();
    const limiter = new RunDeleteLimiter({ perSecond: 0, perPrefixPerSecond: 3500, burst: 1000, clock });
    expect(await secondsFor(limiter, clock, batches(70, 1))).toBeCloseTo((70_000 - 3500) / 3500, 1);
  });

  it('lets keys spread over ten prefixes go at ten budgets: the same 70k keys take 1 s', async () => {
    const clock = steppingClock();
    const limiter = new RunDeleteLimiter({ perSecond: 0, perPrefixPerSecond: 3500, burst: 1000, clock });
    expect(await secondsFor(limiter, clock, batches(70, 10))).toBeCloseTo((7000 - 3500) / 3500, 1);
  });

  it('still applies a run-wide ceiling when one is set, whatever the spread', async () => {
    const clock = steppingClock();
    const limiter = new RunDeleteLimiter({ perSecond: 5000, perPrefixPerSecond: 3500, burst: 1000, clock });
    expect(await secondsFor(limiter, clock, batches(70, 10))).toBeCloseTo((70_000 - 5000) / 5000, 1);
  });

  it('never waits with both budgets off (the file:// default)', async () => {
    const clock = steppingClock();
    const limiter = new RunDeleteLimiter({ perSecond: 0, perPrefixPerSecond: 0, burst: 1000, clock });
    expect(await secondsFor(limiter, clock, batches(70, 1))).toBe(0);
  });

  it('takes a key prefix up to its last slash', () => {
    expect(keyPrefix('a/b/c.pdf')).toBe('a/b/');
    expect(keyPrefix('c.pdf')).toBe('');
  });
});
