import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../testing/fake-clock.js';
import { AdaptiveSendRate, backoffMs, Semaphore } from './throttle.js';

/** Lets promises waiting on the fake clock's sleeps settle. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('AdaptiveSendRate (AIMD on keys per second)', () => {
  it('does not pace until throttled', async () => {
    const clock = new FakeClock();
    const rate = new AdaptiveSendRate({ clock });
    for (let i = 0; i < 10; i++) await rate.admit(1000);
    expect(clock.pendingSleeps).toBe(0);
    expect(rate.snapshot().limitPerSecond).toBeNull();
  });

  it('cuts to half the rate being sent, then paces requests by their key count', async () => {
    const clock = new FakeClock();
    const rate = new AdaptiveSendRate({ clock });
    let last = 0;
    for (let i = 0; i < 4; i++) {
      last = await rate.admit(1000);
      clock.advance(500);
    }
    // 4000 keys over the last 2 s: 2000 keys/s sent, so the pace is cut to 1000 keys/s.
    rate.throttled(last);
    expect(rate.snapshot()).toMatchObject({ limitPerSecond: 1000, cuts: 1, throttles: 1 });
    await rate.admit(500);
    let done = false;
    void rate.admit(500).then(() => (done = true));
    await flush();
    expect(done).toBe(false);
    clock.advance(499);
    await flush();
    expect(done).toBe(false);
    clock.advance(1);
    await flush();
    expect(done).toBe(true);
  });

  it('cuts once per episode: throttles of requests sent before the cut do not cut again', async () => {
    const clock = new FakeClock();
    const rate = new AdaptiveSendRate({ clock });
    const inFlight = [await rate.admit(1000), await rate.admit(1000), await rate.admit(1000)];
    clock.advance(100);
    for (const a of inFlight) rate.throttled(a);
    expect(rate.snapshot()).toMatchObject({ cuts: 1, throttles: 3 });
    const afterCut = rate.admit(100);
    clock.advance(10_000);
    rate.throttled(await afterCut);
    expect(rate.snapshot().cuts).toBe(2);
  });

  it('never cuts below the floor', async () => {
    const clock = new FakeClock();
    const rate = new AdaptiveSendRate({ clock, floorPerSecond: 50 });
    for (let i = 0; i < 20; i++) {
      const a = rate.admit(10);
      clock.advance(60_000);
      rate.throttled(await a);
    }
    expect(rate.snapshot().limitPerSecond).toBe(50);
  });

  it('climbs back by additive steps and lifts pacing once back at the throttled rate', async () => {
    const clock = new FakeClock();
    const rate = new AdaptiveSendRate({ clock, recoverySteps: 4 });
    const first = await rate.admit(1000);
    rate.throttled(first); // a lone burst: 1000 keys in 250 ms = 4000 keys/s; cut to 2000
    expect(rate.snapshot().limitPerSecond).toBe(2000);
    // A success of a request sent before the cut says nothing about the cut rate.
    rate.succeeded(first);
    expect(rate.snapshot().limitPerSecond).toBe(2000);
    const limits: (number | null)[] = [];
    for (let i = 0; i < 4; i++) {
      const a = rate.admit(100);
      clock.advance(1000);
      rate.succeeded(await a);
      limits.push(rate.snapshot().limitPerSecond);
    }
    expect(limits).toEqual([2500, 3000, 3500, null]);
    expect(rate.snapshot().recoveries).toBe(1);
  });
});

describe('backoffMs (exponential, full jitter)', () => {
  it('stays within [0, min(cap, base * 2^attempt))', () => {
    expect(backoffMs(0, 100, 20_000, () => 0)).toBe(0);
    expect(backoffMs(0, 100, 20_000, () => 0.999)).toBe(99);
    expect(backoffMs(3, 100, 20_000, () => 0.999)).toBe(799);
    expect(backoffMs(20, 100, 20_000, () => 0.999)).toBe(19_980);
    const samples = Array.from({ length: 200 }, () => backoffMs(4, 100));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...samples)).toBeLessThan(1600);
    expect(new Set(samples).size).toBeGreaterThan(50);
  });
});

describe('Semaphore', () => {
  it('admits at most `limit` holders, in order', async () => {
    const sem = new Semaphore(2);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const release = await sem.acquire();
        active += 1;
        peak = Math.max(peak, active);
        order.push(i);
        await flush();
        active -= 1;
        release();
        release(); // a second release is a no-op
      }),
    );
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
