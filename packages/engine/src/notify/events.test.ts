import { describe, expect, it } from 'vitest';
import type { RunSummary } from '../run/summary.js';
import { pauseCause, pausedNotification, resumedNotification, runEndNotification } from './events.js';

const summary = (over: Partial<RunSummary>): RunSummary =>
  ({
    run_id: 'r-1',
    status: 'completed',
    trigger: 'schedule',
    dry_run: false,
    started_at: '2025-11-30T02:00:00.000Z',
    ended_at: '2025-11-30T02:00:15.000Z',
    host: 'pod-a',
    version: '0.1.0',
    duration_seconds: 15,
    policy_version: 1,
    deleted_count: 47,
    failed_count: 0,
    degraded: false,
    degraded_reason: null,
    error: null,
    errors: [],
    group_id: null,
    ...over,
  }) as RunSummary;

describe('notifications the engine sends', () => {
  it('names who paused: an operator, the failure breaker, the blast-radius guard', () => {
    expect(pauseCause('alice@bastion')).toBe('manual');
    expect(pauseCause('lethe:failure-breaker')).toBe('failure_breaker');
    expect(pauseCause('lethe:blast-radius-guard')).toBe('blast_radius_guard');
    expect(pausedNotification({ by: 'lethe:failure-breaker', reason: '90% failed' })).toMatchObject({
      kind: 'paused',
      severity: 'critical',
      text: expect.stringMatching(/^Lethe PAUSED by its failure breaker: 90% failed\./),
    });
    expect(pausedNotification({ by: 'alice', reason: 'INC-1' }).severity).toBe('warning');
    expect(resumedNotification({ by: 'bob', reason: null, pausedBy: 'lethe:blast-radius-guard', pauseReason: 'too big' }).details).toMatchObject({
      was_paused_cause: 'blast_radius_guard',
    });
  });

  it('speaks of runs that failed, paused, were interrupted or degraded; silence for a clean run and any dry run', () => {
    expect(runEndNotification(summary({}))).toBeNull();
    expect(runEndNotification(summary({ status: 'failed', dry_run: true }))).toBeNull();
    expect(runEndNotification(summary({ status: 'failed', error: { code: 'LETHE_E_LOCK_LOST', message: 'connection lost' } }))).toMatchObject({
      kind: 'run_failed',
      severity: 'critical',
      text: expect.stringContaining('FAILED on pod-a (v0.1.0) after 15s: 47 deleted, 0 failed; LETHE_E_LOCK_LOST: connection lost'),
    });
    expect(runEndNotification(summary({ status: 'paused' }))?.kind).toBe('run_paused');
    expect(runEndNotification(summary({ status: 'interrupted' }))?.kind).toBe('run_interrupted');
    const degraded = runEndNotification(
      summary({
        degraded: true,
        failed_count: 9,
        degraded_reason: '9 of 56 deletes failed (16%, above 10%)',
        errors: [{ job_id: 'j', file_key: 'aadhaar/ravi.pdf', purpose: 'General', code: 'EACCES', message: 'x' }],
      }),
    );
    expect(degraded).toMatchObject({ kind: 'run_degraded', details: { failure_codes: ['EACCES'], failed_count: 9 } });
    expect(JSON.stringify(degraded)).not.toContain('ravi');
  });
});
