import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FailureBreaker } from './breaker.js';

describe('FailureBreaker', () => {
  it('trips only on a full window with more than the share failing', () => {
    const b = new FailureBreaker({ window: 10, tripShare: 0.5 });
    for (let i = 0; i < 9; i++) b.record('failed');
    expect(b.tripped).toBe(false);
    b.record('erased');
    expect(b.share).toBe(0.9);
    expect(b.tripped).toBe(true);
    for (let i = 0; i < 5; i++) b.record('erased');
    expect(b.share).toBe(0.4);
    expect(b.tripped).toBe(false);
  });

  it('ignores refusals', () => {
    const b = new FailureBreaker({ window: 2, tripShare: 0.5 });
    b.record('refused');
    b.record('refused');
    expect(b.share).toBeNull();
  });

  it('its share always equals the failure share of the last `window` outcomes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.constantFrom('erased', 'absent', 'failed', 'refused' as const), { maxLength: 100 }),
        (window, outcomes) => {
          const b = new FailureBreaker({ window, tripShare: 0.5 });
          for (const o of outcomes) b.record(o);
          const counted = outcomes.filter((o) => o !== 'refused');
          const last = counted.slice(-window);
          expect(b.share).toBe(counted.length < window ? null : last.filter((o) => o === 'failed').length / window);
        },
      ),
    );
  });
});
