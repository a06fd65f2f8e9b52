import { FakeClock } from '@lethe/engine/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CronSchedule } from './schedule.js';
import { runSchedulerLoop } from './scheduler-loop.js';
import { recordingLogger } from './testing/recording-logger.js';

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** Waits until the loop is parked in a sleep (an event, not a timed sleep). */
const parked = (clock: FakeClock, n = 1) => vi.waitFor(() => expect(clock.pendingSleeps).toBeGreaterThanOrEqual(n), { timeout: 2000, interval: 1 });

function harness(expression: string, startIso: string, fire: (slot: number) => Promise<void> = async () => {}) {
  const clock = new FakeClock(at(startIso));
  const stop = new AbortController();
  const fired: string[] = [];
  const nextRuns: (string | null)[] = [];
  const logger = recordingLogger();
  const done = runSchedulerLoop({
    clock,
    schedule: CronSchedule.parse(expression, 'UTC'),
    logger,
    signal: stop.signal,
    maxSleepMs: 2 ** 31 - 1,
    onNextRun: (slot) => nextRuns.push(iso(slot)),
    fire: async (slot) => {
      fired.push(iso(slot)!);
      await fire(slot);
    },
  });
  return { clock, stop, fired, nextRuns, logger, done };
}

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

describe('runSchedulerLoop', () => {
  it('fires at each slot, no earlier, and publishes the next run each time', async () => {
    const h = harness('0 2 * * *', '2025-11-30T01:00:00Z');
    cleanup = async () => {
      h.stop.abort();
      await h.done;
    };
    await parked(h.clock);
    expect(h.nextRuns).toEqual(['2025-11-30T02:00:00.000Z']);
    h.clock.advance(3_600_000 - 1);
    expect(h.fired).toEqual([]);
    h.clock.advance(1);
    await vi.waitFor(() => expect(h.fired).toEqual(['2025-11-30T02:00:00.000Z']), { interval: 1 });
    await parked(h.clock);
    expect(h.nextRuns.at(-1)).toBe('2025-12-01T02:00:00.000Z');
    h.clock.advance(86_400_000);
    await vi.waitFor(() => expect(h.fired).toEqual(['2025-11-30T02:00:00.000Z', '2025-12-01T02:00:00.000Z']), { interval: 1 });
  });

  it('coalesces fires that pass during a long run into the next one, and logs the skip', async () => {
    let release: () => void = () => {};
    const h = harness('*/10 * * * * *', '2025-11-30T00:00:05Z', (slot) =>
      slot === at('2025-11-30T00:00:10Z') ? new Promise<void>((r) => (release = r)) : Promise.resolve(),
    );
    cleanup = async () => {
      h.stop.abort();
      release();
      await h.done;
    };
    await parked(h.clock);
    h.clock.advance(5_000);
    await vi.waitFor(() => expect(h.fired).toEqual(['2025-11-30T00:00:10.000Z']), { interval: 1 });
    h.clock.advance(35_000); // the run goes on past 00:00:20, :30 and :40
    release();
    await parked(h.clock);
    expect(h.nextRuns.at(-1)).toBe('2025-11-30T00:00:50.000Z');
    expect(h.logger.lines.find((l) => l.msg.startsWith('fires passed'))?.fields).toMatchObject({ skipped: 3 });
    h.clock.advance(5_000);
    await vi.waitFor(() => expect(h.fired).toEqual(['2025-11-30T00:00:10.000Z', '2025-11-30T00:00:50.000Z']), { interval: 1 });
  });

  it('never fires a slot twice when the clock steps back', async () => {
    let stepped = false;
    const h = harness('0 * * * *', '2025-11-30T00:59:00Z', async () => {
      if (stepped) return;
      stepped = true;
      h.clock.advance(-120_000); // NTP steps the clock back to 00:59 just after the 01:00 fire
    });
    cleanup = async () => {
      h.stop.abort();
      await h.done;
    };
    await parked(h.clock);
    h.clock.advance(60_000);
    await vi.waitFor(() => expect(h.fired).toHaveLength(1), { interval: 1 });
    await parked(h.clock);
    expect(h.nextRuns.at(-1)).toBe('2025-11-30T02:00:00.000Z');
    h.clock.advance(120_000);
    expect(h.fired).toEqual(['2025-11-30T01:00:00.000Z']);
  });

  it('keeps going after a fire throws', async () => {
    const h = harness('0 * * * *', '2025-11-30T00:59:00Z', async () => {
      throw new Error('boom');
    });
    cleanup = async () => {
      h.stop.abort();
      await h.done;
    };
    await parked(h.clock);
    h.clock.advance(60_000);
    await vi.waitFor(() => expect(h.logger.lines.some((l) => l.level === 'error' && l.msg === 'a scheduled fire failed')).toBe(true), { interval: 1 });
    await parked(h.clock);
    h.clock.advance(3_600_000);
    await vi.waitFor(() => expect(h.fired).toHaveLength(2), { interval: 1 });
  });

  it('stops at once when the signal aborts, even mid-sleep, without firing', async () => {
    const h = harness('0 2 * * *', '2025-11-30T01:00:00Z');
    await parked(h.clock);
    h.stop.abort();
    await h.done;
    expect(h.fired).toEqual([]);
    expect(h.nextRuns.at(-1)).toBeNull();
  });

  it('cuts long waits into pieces of maxSleepMs (a clock that jumps is noticed)', async () => {
    const clock = new FakeClock(at('2025-11-30T01:00:00Z'));
    const stop = new AbortController();
    const fired: number[] = [];
    const done = runSchedulerLoop({
      clock,
      schedule: CronSchedule.parse('0 2 * * *', 'UTC'),
      logger: recordingLogger(),
      signal: stop.signal,
      maxSleepMs: 60_000,
      onNextRun: () => {},
      fire: async (slot) => void fired.push(slot),
    });
    for (let i = 0; i < 60; i++) {
      await parked(clock);
      clock.advance(60_000);
    }
    await vi.waitFor(() => expect(fired).toEqual([at('2025-11-30T02:00:00Z')]), { interval: 1 });
    stop.abort();
    await done;
  });
});
