import { describe, expect, it } from 'vitest';
import { durationInterval, durationMs, percentFraction } from './durations.js';

describe('duration flags', () => {
  it('parse the retention syntax and name the flag when wrong', () => {
    expect(durationMs('--grace', '24h')).toBe(86_400_000);
    expect(durationMs('--grace', '0', { allowZero: true })).toBe(0);
    expect(durationMs('--grace', '0h', { allowZero: true })).toBe(0);
    expect(() => durationMs('--min-age', '0')).toThrow(/^--min-age: must be a positive duration/);
    expect(() => durationMs('--grace', '0x', { allowZero: true })).toThrow(/^--grace: /);
    expect(durationInterval('--within', '48h')).toBe('48 hours');
    expect(() => durationInterval('--within', 'soon')).toThrow(/^--within: /);
  });

  it('percentages', () => {
    expect(percentFraction('--max-orphan-share', '5%')).toBe(0.05);
    expect(percentFraction('--max-orphan-share', '0.5')).toBe(0.005);
    expect(percentFraction('--max-orphan-share', '100')).toBe(1);
    expect(() => percentFraction('--max-orphan-share', '101%')).toThrow(/^--max-orphan-share: expected a percentage/);
    expect(() => percentFraction('--max-orphan-share', 'lots')).toThrow(/^--max-orphan-share: /);
  });
});
