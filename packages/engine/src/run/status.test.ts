import { describe, expect, it } from 'vitest';
import { decideRunStatus, type RunStopFacts, type RunVerdict, type StopReason } from './status.js';

const NONE: RunStopFacts = {
  batchStop: null,
  batchStopError: null,
  loopStop: null,
  fatal: null,
  breakerTripped: false,
  aborted: false,
  lockLost: false,
  lockLostReason: null,
};
const boom = new Error('boom');
const policyChanged = new Error('policy changed');
const lies = new Error('storage lies');
const lockGone = new Error('run lock lost');
const breakerError = new Error('breaker');

type Row = [string, Partial<RunStopFacts>, StopReason | null, RunVerdict['status'], unknown];

/**
 * Every outcome the pipeline, run.ts and run-report.ts produced before they were one function:
 * [case, facts, stoppedBy, status, error].
 */
const TABLE: readonly Row[] = [
  ['ran to the end', {}, null, 'completed', null],
  ['a batch saw the pause under its lock', { batchStop: 'paused' }, 'paused', 'paused', null],
  ['the pause polled between batches', { loopStop: 'paused' }, 'paused', 'paused', null],
  ['the policy changed under a batch', { batchStop: 'policy', batchStopError: policyChanged }, 'policy', 'failed', policyChanged],
  ['storage that lies', { batchStop: 'storage', batchStopError: lies }, 'storage', 'failed', lies],
  ['a batch stop and a batch error: the stop, with the error', { batchStop: 'storage', batchStopError: lies, fatal: boom }, 'storage', 'failed', boom],
  ['a batch paused while another failed', { batchStop: 'paused', fatal: boom }, 'paused', 'failed', boom],
  ['a batch saw the breaker tripped', { batchStop: 'breaker', breakerTripped: true }, 'breaker', 'paused', null],
  ['the breaker between batches', { loopStop: 'breaker', breakerTripped: true }, 'breaker', 'paused', null],
  ['the breaker tripped by the last batches', { breakerTripped: true }, 'breaker', 'paused', null],
  [
    'the breaker, with an error carried (FAILURE_BREAKER): still paused',
    { batchStop: 'breaker', batchStopError: breakerError },
    'breaker',
    'paused',
    breakerError,
  ],
  ['a batch threw', { fatal: boom }, 'failed', 'failed', boom],
  ['a batch threw after the breaker tripped: the error wins', { fatal: boom, breakerTripped: true }, 'failed', 'failed', boom],
  ['a batch threw after the signal', { fatal: boom, aborted: true, loopStop: 'interrupted' }, 'failed', 'failed', boom],
  ['SIGTERM seen between batches', { loopStop: 'interrupted', aborted: true }, 'interrupted', 'interrupted', null],
  ['SIGTERM while waiting for a slot (no loop stop)', { aborted: true }, 'interrupted', 'interrupted', null],
  ['the breaker before the signal: the breaker', { breakerTripped: true, aborted: true }, 'breaker', 'paused', null],
  [
    'the run lock lost, seen between batches',
    { loopStop: 'interrupted', aborted: true, lockLost: true, lockLostReason: lockGone },
    'failed',
    'failed',
    lockGone,
  ],
  ['the run lock lost while waiting', { aborted: true, lockLost: true, lockLostReason: lockGone }, 'failed', 'failed', lockGone],
  [
    'the lock lost after a pause was seen: failed with the lock error',
    { loopStop: 'paused', aborted: true, lockLost: true, lockLostReason: lockGone },
    'paused',
    'failed',
    lockGone,
  ],
  ['the lock lost after a batch threw: the batch error', { fatal: boom, aborted: true, lockLost: true, lockLostReason: lockGone }, 'failed', 'failed', boom],
  [
    'the lock lost and the breaker: paused',
    { loopStop: 'breaker', breakerTripped: true, aborted: true, lockLost: true, lockLostReason: lockGone },
    'breaker',
    'paused',
    lockGone,
  ],
  ['storage or policy stop without its error still did not complete', { batchStop: 'policy' }, 'policy', 'failed', null],
];

describe('decideRunStatus', () => {
  it.each(TABLE)('%s', (_name, facts, stoppedBy, status, error) => {
    expect(decideRunStatus({ ...NONE, ...facts })).toEqual({ stoppedBy, status, error });
  });

  it('covers every status a run can end with', () => {
    expect(new Set(TABLE.map((r) => r[3]))).toEqual(new Set(['completed', 'paused', 'failed', 'interrupted']));
    expect(new Set(TABLE.map((r) => r[2]))).toEqual(new Set([null, 'paused', 'interrupted', 'failed', 'breaker', 'storage', 'policy']));
  });
});
