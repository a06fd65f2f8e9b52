import { parseRetention, retentionApproxMs, retentionToInterval } from '@lethe/engine';
import { UsageError } from './output.js';

/**
 * Duration flags (`--grace 24h`, `--min-age 2d`, `--within 48h`) use the retention syntax
 * ("24h", "30d", "1y", "6 months"), so one grammar serves policies and flags alike.
 */
export function durationMs(flag: string, value: string, options: { allowZero?: boolean } = {}): number {
  if (options.allowZero && /^\s*0+\s*(h|hours?|d|days?)?\s*$/i.test(value)) return 0;
  try {
    return retentionApproxMs(parseRetention(value, flag));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** The same, as a Postgres interval with calendar meaning (`48 hours`, `1 month`). */
export function durationInterval(flag: string, value: string): string {
  try {
    return retentionToInterval(parseRetention(value, flag));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** `5`, `5%` or `0.5%` -> a fraction from 0 to 1. */
export function percentFraction(flag: string, value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(value);
  const n = m ? Number(m[1]) : NaN;
  if (!Number.isFinite(n) || n < 0 || n > 100) throw new UsageError(`${flag}: expected a percentage from 0 to 100 like "5%", got ${JSON.stringify(value)}`);
  return n / 100;
}

/**
 * Short waits and timeouts (`--timeout 5m`, `90s`, `500ms`, `2h`): unlike retentions, these are
 * wall-clock durations, so seconds and minutes are units here ("m" is minutes, not months).
 */
export function waitDurationMs(flag: string, value: string): number {
  const m = /^\s*(\d{1,7})\s*(ms|s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)?\s*$/i.exec(value);
  const unit = (m?.[2] ?? 's').toLowerCase();
  const factor = unit === 'ms' ? 1 : unit.startsWith('s') ? 1000 : unit.startsWith('m') ? 60_000 : 3_600_000;
  const ms = m ? Number(m[1]) * factor : NaN;
  if (!Number.isSafeInteger(ms) || ms > 86_400_000)
    throw new UsageError(`${flag}: expected a duration like "90s", "5m" or "1h" (at most 24h), got ${JSON.stringify(value)}`);
  return ms;
}
