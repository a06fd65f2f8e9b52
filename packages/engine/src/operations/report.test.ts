import { describe, expect, it } from 'vitest';
import { formatSeconds } from '../duration-text.js';
import { judgeCompliance, parseMonth } from './report.js';

describe('parseMonth', () => {
  it("gives the month's UTC bounds, December rolling into the next year", () => {
    expect(parseMonth('2025-11')).toEqual({ month: '2025-11', start: '2025-11-01T00:00:00.000Z', end: '2025-12-01T00:00:00.000Z' });
    expect(parseMonth('2024-12')).toMatchObject({ start: '2024-12-01T00:00:00.000Z', end: '2025-01-01T00:00:00.000Z' });
    expect(parseMonth('2024-02')).toMatchObject({ end: '2024-03-01T00:00:00.000Z' });
  });

  it.each([['2025-13'], ['2025-00'], ['2025-1'], ['25-11'], ['2025/11'], ['1969-12'], [' 2025-11'], [''], [202511], [null]])(
    'rejects %j naming the field',
    (bad) => {
      expect(() => parseMonth(bad)).toThrow(/^month: expected a month like "2025-11" \(YYYY-MM\), got /);
    },
  );
});

describe('judgeCompliance (DESIGN "Compliance grace")', () => {
  const allowedMs = 2 * 86_400_000;

  it('is COMPLIANT only when nothing is late', () => {
    expect(judgeCompliance({ lateErasures: 0, latePresent: 0, allowedMs })).toEqual({ status: 'COMPLIANT', reasons: [] });
  });

  it('names each kind of lateness', () => {
    expect(judgeCompliance({ lateErasures: 3, latePresent: 0, allowedMs })).toEqual({
      status: 'NON-COMPLIANT',
      reasons: ['3 files were erased more than 2d after they expired'],
    });
    expect(judgeCompliance({ lateErasures: 1, latePresent: 2, allowedMs }).reasons).toEqual([
      '1 file was erased more than 2d after it expired',
      '2 expired files are still present more than 2d after they expired',
    ]);
    expect(judgeCompliance({ lateErasures: 0, latePresent: 1, allowedMs }).reasons).toEqual(['1 expired file is still present more than 2d after it expired']);
  });
});

describe('formatSeconds', () => {
  it.each([
    [0, '0s'],
    [59, '59s'],
    [90, '1m'],
    [3600, '1h'],
    [3660, '1h 1m'],
    [90_061, '1d 1h'],
    [172_800, '2d'],
    [-5, '0s'],
  ])('%d -> %s', (s, text) => {
    expect(formatSeconds(s)).toBe(text);
  });
});
