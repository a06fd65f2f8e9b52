import * as engine from '@lethe/engine';
import * as operations from '@lethe/engine/operations';
import * as testing from '@lethe/engine/testing';
import { describe, expect, it } from 'vitest';

// The engine's root entry exports what the runtimes (cli, http, daemon) use; operator commands
// come from @lethe/engine/operations. The run's internals (SQL builders, the run lock's key, the
// token bucket, the stages of a run) are reachable only through @lethe/engine/testing, so moving
// or renaming one breaks no user of the package (docs/design.md#source-map).

const INTERNALS = [
  'RUN_LOCK_KEY',
  'TokenBucket',
  'FailureBreaker',
  'readExpiredRows',
  'expiredRowsSql',
  'writeOutcomesSql',
  'preflightRun',
  'purgeDueTrash',
  'countExpiredCapped',
];

describe('the engine entry', () => {
  it('exports no run internal and no SQL builder', () => {
    const names = Object.keys(engine);
    expect(names.filter((n) => INTERNALS.includes(n) || /Sql$/.test(n))).toEqual([]);
  });

  it('keeps operator commands under ./operations, not the root', () => {
    const shared = Object.keys(operations).filter((n) => n in engine);
    expect(shared).toEqual([]);
  });

  it('reaches the internals tests drive through ./testing', () => {
    expect(typeof testing.RUN_LOCK_KEY).toBe('string');
    expect(typeof testing.readExpiredRows).toBe('function');
    expect(typeof testing.expiredRowsSql).toBe('function');
  });

  it('names no two exported functions countExpired (the capped guard count and the backlog differ)', () => {
    const all = [...Object.keys(engine), ...Object.keys(operations), ...Object.keys(testing)];
    expect(all).not.toContain('countExpired');
  });
});
