import type { ControlState } from '@lethe/engine';
import { FakeClock } from '@lethe/engine/testing';
import { describe, expect, it, vi } from 'vitest';
import { watchPauseState } from './pause-watch.js';
import { recordingLogger } from './testing/recording-logger.js';

const running: ControlState = { paused: false, pausedBy: null, pausedAt: null, reason: null };
const paused: ControlState = { paused: true, pausedBy: 'oncall', pausedAt: '2025-11-30T01:00:00.000Z', reason: 'drill' };

describe('watchPauseState', () => {
  it('logs a pause and a resume once each, as the flag changes', async () => {
    const clock = new FakeClock();
    const stop = new AbortController();
    const logger = recordingLogger();
    const states = [running, running, paused, paused, running, running];
    let reads = 0;
    const done = watchPauseState({
      clock,
      logger,
      intervalMs: 1000,
      signal: stop.signal,
      readControl: async () => states[Math.min(reads++, states.length - 1)]!,
    });
    for (let i = 1; i < states.length; i++) {
      await vi.waitFor(() => expect(reads).toBe(i), { interval: 1 });
      await vi.waitFor(() => expect(clock.pendingSleeps).toBe(1), { interval: 1 });
      clock.advance(1000);
    }
    stop.abort();
    await done;
    expect(logger.lines.map((l) => [l.level, l.msg, l.fields.pausedBy])).toEqual([
      ['warn', 'Lethe is paused: scheduled runs are skipped until `lethe resume`', 'oncall'],
      ['info', 'Lethe was resumed: scheduled runs go on at the next fire', undefined],
    ]);
  });

  it('says so at once when the daemon starts while paused, and survives a failed read', async () => {
    const clock = new FakeClock();
    const stop = new AbortController();
    const logger = recordingLogger();
    let reads = 0;
    const done = watchPauseState({
      clock,
      logger,
      intervalMs: 1000,
      signal: stop.signal,
      readControl: async () => {
        reads++;
        if (reads === 2) throw new Error('connection reset');
        return paused;
      },
    });
    await vi.waitFor(() => expect(clock.pendingSleeps).toBe(1), { interval: 1 });
    clock.advance(1000);
    await vi.waitFor(() => expect(reads).toBe(2), { interval: 1 });
    await vi.waitFor(() => expect(clock.pendingSleeps).toBe(1), { interval: 1 });
    clock.advance(1000);
    await vi.waitFor(() => expect(reads).toBe(3), { interval: 1 });
    stop.abort();
    await done;
    expect(logger.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
  });
});
