import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CronSchedule } from './schedule.js';

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

describe('CronSchedule', () => {
  it('defaults read as the runbook says: daily 02:00 UTC, 24 h apart', () => {
    const s = CronSchedule.parse('0 2 * * *', 'UTC');
    expect(iso(s.nextAfter(at('2025-11-30T01:59:59Z')))).toBe('2025-11-30T02:00:00.000Z');
    expect(iso(s.nextAfter(at('2025-11-30T02:00:00Z')))).toBe('2025-12-01T02:00:00.000Z');
    expect(iso(s.lastAtOrBefore(at('2025-11-30T02:00:00Z')))).toBe('2025-11-30T02:00:00.000Z');
    expect(iso(s.lastAtOrBefore(at('2025-11-30T01:59:59Z')))).toBe('2025-11-29T02:00:00.000Z');
    expect(s.periodAt(at('2025-11-30T12:00:00Z'))).toBe(86_400_000);
  });

  it('reads the expression in its time zone (02:00 IST is 20:30 UTC the day before)', () => {
    const s = CronSchedule.parse('0 2 * * *', 'Asia/Kolkata');
    expect(iso(s.nextAfter(at('2025-11-30T00:00:00Z')))).toBe('2025-11-30T20:30:00.000Z');
  });

  it('accepts a seconds field, and the period follows it', () => {
    const s = CronSchedule.parse('*/2 * * * * *', 'UTC');
    expect(iso(s.nextAfter(at('2025-11-30T00:00:01.500Z')))).toBe('2025-11-30T00:00:02.000Z');
    expect(s.periodAt(at('2025-11-30T00:00:01.500Z'))).toBe(2000);
    expect(s.firesBetween(at('2025-11-30T00:00:00Z'), at('2025-11-30T00:00:09Z'))).toBe(4);
  });

  it('measures an irregular period around now (weekdays only: 72 h over the weekend)', () => {
    const s = CronSchedule.parse('0 2 * * 1-5', 'UTC');
    expect(s.periodAt(at('2025-11-30T12:00:00Z'))).toBe(72 * 3_600_000); // Sunday: Fri 02:00 -> Mon 02:00
    expect(s.periodAt(at('2025-12-02T12:00:00Z'))).toBe(24 * 3_600_000); // Tuesday
  });

  it('follows daylight saving time in zones that have it', () => {
    const s = CronSchedule.parse('0 12 * * *', 'America/New_York');
    // 2025-11-02: clocks go back, so the day is 25 hours long.
    expect(s.periodAt(at('2025-11-02T00:00:00Z'))).toBe(25 * 3_600_000);
  });

  it('next fire is strictly after its argument and monotonic', () => {
    const s = CronSchedule.parse('*/7 3-5 * * *', 'Asia/Kolkata');
    const base = at('2025-01-01T00:00:00Z');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 400 * 86_400_000 }), fc.integer({ min: 0, max: 86_400_000 }), (a, d) => {
        const n1 = s.nextAfter(base + a)!;
        const n2 = s.nextAfter(base + a + d)!;
        expect(n1).toBeGreaterThan(base + a);
        expect(n2).toBeGreaterThanOrEqual(n1);
        expect(s.lastAtOrBefore(n1)).toBe(n1);
      }),
      { numRuns: 200 },
    );
  });

  it.each([
    ['0 2 * *', /schedule: invalid cron expression "0 2 \* \*".*5 fields/],
    ['61 * * * *', /schedule: invalid cron expression "61 \* \* \* \*".*minute/],
    ['0 0 2 * * * 2030', /schedule: invalid cron expression.*6 with seconds first/],
    ['', /schedule: expected a cron expression/],
    ['0 0 30 2 *', /schedule: the cron expression "0 0 30 2 \*" never fires/],
  ])('refuses the expression %j with a message naming the field', (expr, message) => {
    expect(() => CronSchedule.parse(expr, 'UTC')).toThrow(message);
  });

  it('refuses an unknown time zone, naming the field', () => {
    expect(() => CronSchedule.parse('0 2 * * *', 'Mars/Olympus')).toThrow(/timezone: unknown time zone "Mars\/Olympus".*IANA/);
  });
});
