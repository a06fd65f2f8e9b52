import { describe, expect, it } from 'vitest';
import { decideCatchUp } from './catch-up.js';
import { CronSchedule } from './schedule.js';

const H = 3_600_000;
const at = (iso: string): number => Date.parse(iso);
const daily = CronSchedule.parse('0 2 * * *', 'UTC');

describe('decideCatchUp', () => {
  it('does nothing on a fresh install (no run ever recorded)', () => {
    expect(decideCatchUp(daily, { nowMs: at('2025-11-30T12:00:00Z'), graceMs: H, lastSuccessStartedMs: null, anyRun: false })).toMatchObject({
      catchUp: false,
    });
  });

  it('does nothing when the last success ran at the latest fire', () => {
    const d = decideCatchUp(daily, { nowMs: at('2025-11-30T12:00:00Z'), graceMs: H, lastSuccessStartedMs: at('2025-11-30T02:00:01Z'), anyRun: true });
    expect(d.catchUp).toBe(false);
  });

  it('waits out the grace: 02:30 after a missed 02:00 is not yet late (a replica may still be running it)', () => {
    const d = decideCatchUp(daily, { nowMs: at('2025-11-30T02:30:00Z'), graceMs: H, lastSuccessStartedMs: at('2025-11-29T02:00:00Z'), anyRun: true });
    expect(d.catchUp).toBe(false);
  });

  it('catches up once past period + grace, claiming the latest missed fire', () => {
    const d = decideCatchUp(daily, { nowMs: at('2025-11-30T03:00:01Z'), graceMs: H, lastSuccessStartedMs: at('2025-11-29T02:00:00Z'), anyRun: true });
    expect(d).toMatchObject({ catchUp: true, slotMs: at('2025-11-30T02:00:00Z'), missedSinceMs: at('2025-11-30T02:00:00Z') });
  });

  it('coalesces a week of missed fires into one run for the latest slot', () => {
    const d = decideCatchUp(daily, { nowMs: at('2025-11-30T12:00:00Z'), graceMs: H, lastSuccessStartedMs: at('2025-11-23T02:00:00Z'), anyRun: true });
    expect(d).toMatchObject({ catchUp: true, slotMs: at('2025-11-30T02:00:00Z'), missedSinceMs: at('2025-11-24T02:00:00Z') });
  });

  it('counts a manual run between fires: the fire after it is what must not be missed', () => {
    const lastSuccess = at('2025-11-29T14:00:00Z');
    expect(decideCatchUp(daily, { nowMs: at('2025-11-30T02:59:00Z'), graceMs: H, lastSuccessStartedMs: lastSuccess, anyRun: true }).catchUp).toBe(false);
    expect(decideCatchUp(daily, { nowMs: at('2025-11-30T03:01:00Z'), graceMs: H, lastSuccessStartedMs: lastSuccess, anyRun: true }).catchUp).toBe(true);
  });

  it('does not catch up over a weekend for a weekday schedule', () => {
    const weekdays = CronSchedule.parse('0 2 * * 1-5', 'UTC');
    // Sunday noon; the last success was Friday 02:00 and no weekday fire has passed since.
    expect(
      decideCatchUp(weekdays, { nowMs: at('2025-11-30T12:00:00Z'), graceMs: H, lastSuccessStartedMs: at('2025-11-28T02:00:00Z'), anyRun: true }).catchUp,
    ).toBe(false);
  });

  it('catches up when runs were recorded but none ever completed', () => {
    const d = decideCatchUp(daily, { nowMs: at('2025-11-30T12:00:00Z'), graceMs: H, lastSuccessStartedMs: null, anyRun: true });
    expect(d).toMatchObject({ catchUp: true, slotMs: at('2025-11-30T02:00:00Z'), missedSinceMs: null });
  });

  it('with a seconds schedule the same rule holds at second scale', () => {
    const fast = CronSchedule.parse('*/2 * * * * *', 'UTC');
    const now = at('2025-11-30T00:01:00Z');
    expect(decideCatchUp(fast, { nowMs: now, graceMs: 5_000, lastSuccessStartedMs: now - 6_000, anyRun: true }).catchUp).toBe(false);
    expect(decideCatchUp(fast, { nowMs: now, graceMs: 5_000, lastSuccessStartedMs: now - 8_000, anyRun: true })).toMatchObject({
      catchUp: true,
      slotMs: now - 6_000,
    });
  });
});
