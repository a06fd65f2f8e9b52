import { describe, expect, it } from 'vitest';
import { waitDurationMs } from './durations.js';

describe('wait durations (--timeout, --max-clock-skew)', () => {
  it('read seconds, minutes and hours ("m" is minutes here), and name the flag when wrong', () => {
    expect(['500ms', '90s', '90', '5m', '2 min', '1h'].map((v) => waitDurationMs('--timeout', v))).toEqual([500, 90_000, 90_000, 300_000, 120_000, 3_600_000]);
    expect(() => waitDurationMs('--timeout', 'soon')).toThrow(/^--timeout: expected a duration like "90s"/);
    expect(() => waitDurationMs('--timeout', '25h')).toThrow(/at most 24h/);
    expect(() => waitDurationMs('--timeout', '-5m')).toThrow(/^--timeout: /);
  });
});
