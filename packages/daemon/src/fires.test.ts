import type { ControlState } from '@lethe/engine';
import type { RunRecord } from '@lethe/engine/operations';
import { FakeClock } from '@lethe/engine/testing';
import { describe, expect, it } from 'vitest';
import { catchUpIfMissed, handleScheduledFire, type FireDeps } from './fires.js';
import type { GuardedRunRequest } from './run-gate.js';
import { CronSchedule } from './schedule.js';
import { recordingLogger } from './testing/recording-logger.js';

const at = (iso: string): number => Date.parse(iso);
const running: ControlState = { paused: false, pausedBy: null, pausedAt: null, reason: null };
const paused: ControlState = { paused: true, pausedBy: 'oncall', pausedAt: '2025-11-30T01:00:00.000Z', reason: 'EMERGENCY-001' };

function run(id: string, startedAt: string, status: RunRecord['status'] = 'completed'): RunRecord {
  return {
    id,
    trigger: 'schedule',
    status,
    dryRun: false,
    startedAt,
    endedAt: startedAt,
    cutoff: startedAt,
    policyVersion: 1,
    host: 'h',
    version: '0',
    deleted: 0,
    failed: 0,
    wouldDelete: null,
    durationSeconds: 1,
    error: null,
    progress: null,
    degraded: false,
  };
}

/** Replicas share one claims table, as they share Postgres. */
function replica(claims: Set<string>, over: Partial<FireDeps> & { nowIso?: string } = {}) {
  const runs: GuardedRunRequest[] = [];
  const logger = recordingLogger();
  const deps: FireDeps = {
    clock: new FakeClock(at(over.nowIso ?? '2025-11-30T02:00:00Z')),
    logger,
    schedule: CronSchedule.parse('0 2 * * *', 'UTC'),
    graceMs: 3_600_000,
    lockWaitMs: 900_000,
    readControl: async () => running,
    claimSlot: async (slot) => (claims.has(slot) ? false : (claims.add(slot), true)),
    claimCatchUpSlot: async (slot) => (claims.has(`catch-up ${slot}`) ? false : (claims.add(`catch-up ${slot}`), true)),
    lastRuns: async () => ({ last: null, lastSuccess: null }),
    run: async (request) => {
      runs.push(request);
      return { kind: 'skipped', reason: 'busy', message: 'test' };
    },
    ...over,
  };
  return { deps, runs, logger };
}

describe('handleScheduledFire', () => {
  it('runs a slot on exactly one of three replicas, with the overlap policy as lockWaitMs', async () => {
    const claims = new Set<string>();
    const replicas = [replica(claims), replica(claims), replica(claims)];
    const outcomes = await Promise.all(replicas.map((r) => handleScheduledFire(r.deps, at('2025-11-30T02:00:00Z'))));
    expect(outcomes.map((o) => o.kind).sort()).toEqual(['claimed-elsewhere', 'claimed-elsewhere', 'ran']);
    expect(replicas.flatMap((r) => r.runs)).toEqual([{ trigger: 'schedule', slot: '2025-11-30T02:00:00.000Z', lockWaitMs: 900_000 }]);
  });

  it('skips a paused fire without claiming it, and says who paused and why', async () => {
    const claims = new Set<string>();
    const r = replica(claims, { readControl: async () => paused });
    expect(await handleScheduledFire(r.deps, at('2025-11-30T02:00:00Z'))).toEqual({ kind: 'paused' });
    expect(claims.size).toBe(0);
    expect(r.runs).toEqual([]);
    expect(r.logger.lines.find((l) => l.level === 'warn')).toMatchObject({
      msg: expect.stringContaining('paused: skipping the scheduled run'),
      fields: { pausedBy: 'oncall', reason: 'EMERGENCY-001' },
    });
  });
});

describe('catchUpIfMissed', () => {
  it('runs once for a missed night, on one replica, claiming the missed slot', async () => {
    const claims = new Set<string>();
    const lastRuns = async () => ({ last: run('a', '2025-11-28T02:00:00.000Z'), lastSuccess: run('a', '2025-11-28T02:00:00.000Z') });
    const replicas = [replica(claims, { lastRuns, nowIso: '2025-11-30T09:00:00Z' }), replica(claims, { lastRuns, nowIso: '2025-11-30T09:00:00Z' })];
    await Promise.all(replicas.map((r) => catchUpIfMissed(r.deps)));
    expect(replicas.flatMap((r) => r.runs)).toEqual([{ trigger: 'catch-up', slot: '2025-11-30T02:00:00.000Z', lockWaitMs: 900_000 }]);
  });

  it('does not run when nothing was missed', async () => {
    const r = replica(new Set(), {
      nowIso: '2025-11-30T09:00:00Z',
      lastRuns: async () => ({ last: run('a', '2025-11-30T02:00:00.000Z'), lastSuccess: run('a', '2025-11-30T02:00:00.000Z') }),
    });
    expect(await catchUpIfMissed(r.deps)).toMatchObject({ kind: 'nothing-missed' });
    expect(r.runs).toEqual([]);
  });

  it('does not catch up while paused', async () => {
    const claims = new Set<string>();
    const r = replica(claims, {
      nowIso: '2025-11-30T09:00:00Z',
      readControl: async () => paused,
      lastRuns: async () => ({ last: run('a', '2025-11-20T02:00:00.000Z'), lastSuccess: run('a', '2025-11-20T02:00:00.000Z') }),
    });
    expect(await catchUpIfMissed(r.deps)).toEqual({ kind: 'paused' });
    expect(claims.size).toBe(0);
  });
});
