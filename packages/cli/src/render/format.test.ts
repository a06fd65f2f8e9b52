import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { count } from './format.js';

describe('count', () => {
  it.each([
    [0, '0'],
    [7, '7'],
    [999, '999'],
    [1000, '1,000'],
    [12_345, '12,345'],
    [1_234_567, '1,234,567'],
    [-1000, '-1,000'],
    [-0, (-0).toLocaleString('en-US')],
    [1.5, '1.5'],
  ])('%d -> %s', (n, text) => {
    expect(count(n)).toBe(text);
  });

  it('writes every safe integer as toLocaleString("en-US") does', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (n) => count(n) === n.toLocaleString('en-US')),
      { numRuns: 2000 },
    );
  });
});
