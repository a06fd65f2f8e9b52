import { createEngine, type Engine } from '@lethe/engine';
import { MemoryStorage } from '@lethe/engine/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveDaemonOptions } from './options.js';

// The pool connects lazily: nothing here touches a database.
const engine: Engine = createEngine({ databaseUrl: 'postgres://nobody@127.0.0.1:1/none', storage: new MemoryStorage() });
afterAll(() => engine.close());

describe('resolveDaemonOptions', () => {
  it('fills the runbook defaults: daily 02:00 UTC, wait for a run in progress, 1 h grace', () => {
    const o = resolveDaemonOptions({ engine });
    expect(o.schedule.expression).toBe('0 2 * * *');
    expect(o.schedule.timezone).toBe('UTC');
    expect(o.overlap).toBe('wait');
    expect(o.lockWaitMs).toBe(900_000);
    expect(o.graceMs).toBe(3_600_000);
    expect(o.http).toBeNull();
    expect(Object.isFrozen(o)).toBe(true);
  });

  it('refuse means a lock wait of 0', () => {
    expect(resolveDaemonOptions({ engine, overlap: 'refuse', overlapWaitMs: 5000 }).lockWaitMs).toBe(0);
  });

  it.each([
    [{ schedule: 'every day' }, /^schedule: invalid cron expression "every day"/],
    [{ timezone: 'India/Mumbai' }, /^timezone: unknown time zone "India\/Mumbai"/],
    [{ overlap: 'queue' as never }, /^overlap: expected "wait" or "refuse", got "queue"/],
    [{ graceMs: -1 }, /^graceMs: expected an integer number of milliseconds/],
    [{ shutdownTimeoutMs: 1.5 }, /^shutdownTimeoutMs: expected an integer/],
    [
      {
        http: {
          port: 70_000,
          createService: () => {
            throw new Error('not started');
          },
        },
      },
      /^httpPort: expected a TCP port from 0 to 65535, got 70000/,
    ],
    [{ heartbeatIntervalMs: 200_000, staleAfterMs: 100_000 }, /^staleAfterMs: must be longer than heartbeatIntervalMs/],
  ])('refuses %j with a message naming the field', (bad, message) => {
    expect(() => resolveDaemonOptions({ engine, ...bad })).toThrow(message);
  });

  it('refuses an engine without storage: the daemon could never delete anything', () => {
    const bare = createEngine({ databaseUrl: 'postgres://nobody@127.0.0.1:1/none' });
    try {
      expect(() => resolveDaemonOptions({ engine: bare })).toThrow(/^LETHE_STORAGE: the daemon needs a storage URL/);
    } finally {
      void bare.close();
    }
  });
});
