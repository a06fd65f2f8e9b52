import { FakeClock } from '@lethe/engine/testing';
import { describe, expect, it, vi } from 'vitest';
import { shutDown } from './shutdown.js';
import { recordingLogger } from './testing/recording-logger.js';

describe('shutDown', () => {
  it('runs the steps in order and reports a clean stop', async () => {
    const order: string[] = [];
    const step = (name: string) => ({ name, begin: async () => void order.push(name) });
    const report = await shutDown({
      clock: new FakeClock(),
      logger: recordingLogger(),
      reason: 'test',
      timeoutMs: 1000,
      steps: [step('a'), step('b'), step('c')],
      runsInFlight: () => 0,
    });
    expect(order).toEqual(['a', 'b', 'c']);
    expect(report).toMatchObject({ clean: true, unfinished: [] });
  });

  it('abandons a step that outlives the timeout, still starts the others, and says what was left', async () => {
    const clock = new FakeClock();
    const logger = recordingLogger();
    const started: string[] = [];
    const done = shutDown({
      clock,
      logger,
      reason: 'SIGTERM',
      timeoutMs: 30_000,
      runsInFlight: () => 1,
      steps: [
        { name: 'runs in flight', begin: () => (started.push('runs'), new Promise(() => {})) }, // a storage call that hangs
        { name: 'http', begin: async () => void started.push('http') },
        { name: 'engine', begin: async () => void started.push('engine') },
      ],
    });
    await vi.waitFor(() => expect(clock.pendingSleeps).toBe(1), { interval: 1 });
    clock.advance(30_000);
    const report = await done;
    expect(started).toEqual(['runs', 'http', 'engine']);
    expect(report).toMatchObject({ clean: false, unfinished: ['runs in flight'] });
    expect(logger.lines.at(-1)).toMatchObject({ level: 'error', msg: 'shutdown timed out; abandoning what had not finished' });
  });

  it('a failing step is logged and does not stop the others', async () => {
    const logger = recordingLogger();
    const report = await shutDown({
      clock: new FakeClock(),
      logger,
      reason: 'test',
      timeoutMs: 1000,
      runsInFlight: () => 0,
      steps: [
        {
          name: 'http',
          begin: async () => {
            throw new Error('EADDRINUSE');
          },
        },
        { name: 'engine', begin: async () => {} },
      ],
    });
    expect(report.clean).toBe(true);
    expect(logger.lines.some((l) => l.level === 'error' && l.fields.step === 'http')).toBe(true);
  });
});
