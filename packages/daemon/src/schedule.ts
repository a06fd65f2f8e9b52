import { Cron } from 'croner';
import { ConfigError } from '@lethe/engine';

/**
 * A cron expression read in a time zone, used only to compute fire times: the daemon keeps its own
 * timer on the Clock port (so tests drive it with a fake clock) rather than croner's setTimeout.
 * 5 fields, or 6 with seconds first (tests fire every few seconds); croner's nicknames (`@daily`)
 * work too.
 */
export class CronSchedule {
  readonly expression: string;
  readonly timezone: string;
  readonly #cron: Cron;

  private constructor(expression: string, timezone: string, cron: Cron) {
    this.expression = expression;
    this.timezone = timezone;
    this.#cron = cron;
  }

  /** Validates both fields with messages that name them; throws ConfigError. */
  static parse(expression: string, timezone: string): CronSchedule {
    if (typeof timezone !== 'string' || timezone.trim() === '' || !isTimeZone(timezone)) {
      throw new ConfigError(`timezone: unknown time zone ${JSON.stringify(timezone)}; expected an IANA name such as "UTC" or "Asia/Kolkata"`);
    }
    if (typeof expression !== 'string' || expression.trim() === '') {
      throw new ConfigError(`schedule: expected a cron expression such as "0 2 * * *" (daily at 02:00), got ${JSON.stringify(expression)}`);
    }
    let cron: Cron;
    try {
      cron = new Cron(expression.trim(), { paused: true, timezone, mode: '5-or-6-parts' });
    } catch (error) {
      const why = (error as Error).message.replace(/^CronPattern: /, '');
      throw new ConfigError(
        `schedule: invalid cron expression ${JSON.stringify(expression)} (${why}); expected 5 fields "minute hour day month weekday", or 6 with seconds first, e.g. "0 2 * * *"`,
      );
    }
    const schedule = new CronSchedule(expression.trim(), timezone, cron);
    if (schedule.nextAfter(Date.now()) === null) {
      throw new ConfigError(`schedule: the cron expression ${JSON.stringify(expression)} never fires (no matching date in the future)`);
    }
    return schedule;
  }

  /** The first fire strictly after `ms` (epoch ms), or null when the expression never fires again. */
  nextAfter(ms: number): number | null {
    return this.#cron.nextRun(new Date(ms))?.getTime() ?? null;
  }

  /** The last fire at or before `ms`, or null when there is none. */
  lastAtOrBefore(ms: number): number | null {
    return this.#cron.previousRuns(1, new Date(ms + 1))[0]?.getTime() ?? null;
  }

  /**
   * The gap between the fire at or before `ms` and the next one: 24 h for a daily schedule, 72 h
   * over a weekend for a weekday-only one. Health judges "overdue" against it.
   */
  periodAt(ms: number): number {
    const next = this.nextAfter(ms);
    const previous = this.lastAtOrBefore(ms);
    if (next !== null && previous !== null) return next - previous;
    if (next !== null) {
      const after = this.nextAfter(next);
      return after === null ? 0 : after - next;
    }
    return 0;
  }

  /** How many fires lie in (fromMs, toMs], counted up to `cap` (slots skipped while a run went on). */
  firesBetween(fromMs: number, toMs: number, cap = 1000): number {
    let n = 0;
    for (let t = this.nextAfter(fromMs); t !== null && t <= toMs && n < cap; t = this.nextAfter(t)) n++;
    return n;
  }
}

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
