import { ConfigError, ErrorCodes } from '../errors.js';

/**
 * Retention policies. A retention is a calendar interval (`1 year` means the same date next year,
 * as Postgres adds intervals in UTC), never a fixed number of milliseconds.
 */

export type RetentionUnit = 'hour' | 'day' | 'week' | 'month' | 'year';

export interface Retention {
  readonly amount: number;
  readonly unit: RetentionUnit;
  /**
   * A retention duty (docs/rights.md#retained-under): the statute that obliges the fiduciary to
   * keep this purpose's records for the retention period, e.g. "Income-tax Act 1961 s.44AA".
   * Rows of such a purpose are not erased on request; the request records the refusal with it,
   * and the rows' normal expiry still applies.
   */
  readonly retainedUnder?: string;
}

export type PolicySet = Readonly<Record<string, Retention>>;

export const FINANCIAL_RETAINED_UNDER = 'Income-tax Act 1961 s.44AA / Companies Act 2013 s.128';
export const MEDICAL_RETAINED_UNDER = 'Indian Medical Council (Professional Conduct) Regulations 2002 reg. 1.3.1';

export const DEFAULT_POLICIES: PolicySet = Object.freeze({
  'System Testing': { amount: 24, unit: 'hour' },
  General: { amount: 30, unit: 'day' },
  // Defaults the operator must confirm with counsel (docs/rights.md#retained-under).
  Financial: { amount: 1, unit: 'year', retainedUnder: FINANCIAL_RETAINED_UNDER },
  Legal: { amount: 7, unit: 'year' },
  Medical: { amount: 10, unit: 'year', retainedUnder: MEDICAL_RETAINED_UNDER },
});

const UNIT_ALIASES: Readonly<Record<string, RetentionUnit>> = {
  h: 'hour',
  hr: 'hour',
  hrs: 'hour',
  hour: 'hour',
  hours: 'hour',
  d: 'day',
  day: 'day',
  days: 'day',
  w: 'week',
  week: 'week',
  weeks: 'week',
  mo: 'month',
  month: 'month',
  months: 'month',
  y: 'year',
  yr: 'year',
  yrs: 'year',
  year: 'year',
  years: 'year',
};

const APPROX_MS: Readonly<Record<RetentionUnit, number>> = {
  hour: 3_600_000,
  day: 86_400_000,
  week: 7 * 86_400_000,
  month: 30.436875 * 86_400_000,
  year: 365.2425 * 86_400_000,
};

/** Largest retention we accept: a typo like `1000y` should fail loudly, not keep data forever. */
const MAX_YEARS = 100;

/** Parses `24h`, `30d`, `365d`, `1y`, `7 years`, `6 months`. */
export function parseRetention(input: unknown, field = 'retention'): Retention {
  const text = typeof input === 'number' ? `${input}` : input;
  if (typeof text !== 'string') {
    throw new ConfigError(`${field}: must be a positive duration like "365d", got ${JSON.stringify(input)}`, ErrorCodes.POLICY_INVALID);
  }
  const match = /^\s*(\d{1,6})\s*([a-zA-Z]+)\s*$/.exec(text);
  const unit = match ? UNIT_ALIASES[match[2]!.toLowerCase()] : undefined;
  const amount = match ? Number(match[1]) : NaN;
  if (!match || unit === undefined || !Number.isSafeInteger(amount) || amount <= 0) {
    throw new ConfigError(
      `${field}: must be a positive duration like "365d", "24h", "1y" or "6 months", got ${JSON.stringify(text)}`,
      ErrorCodes.POLICY_INVALID,
    );
  }
  if (APPROX_MS[unit] * amount > APPROX_MS.year * MAX_YEARS) {
    throw new ConfigError(`${field}: must be at most ${MAX_YEARS} years, got ${JSON.stringify(text)}`, ErrorCodes.POLICY_INVALID);
  }
  return { amount, unit };
}

/** The Postgres interval literal, e.g. `24 hours`, `1 year`. */
export function retentionToInterval(r: Retention): string {
  return `${r.amount} ${r.unit}${r.amount === 1 ? '' : 's'}`;
}

export const formatRetention = retentionToInterval;

export function retentionApproxMs(r: Retention): number {
  return APPROX_MS[r.unit] * r.amount;
}

/** True when adding the interval can land on a clamped day (Jan 31 + 1 month = Feb 28). */
export function isCalendarRetention(r: Retention): boolean {
  return r.unit === 'month' || r.unit === 'year';
}

/**
 * Validates a policy map from config. Purposes must be non-empty strings; with `known`, a purpose
 * not in it is an error (a misspelt purpose would otherwise silently keep its files forever).
 */
export function parsePolicies(input: unknown, known?: readonly string[]): PolicySet {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError(`policies: must be an object of purpose -> duration, got ${JSON.stringify(input)}`, ErrorCodes.POLICY_INVALID);
  }
  const out: Record<string, Retention> = {};
  for (const [purpose, value] of Object.entries(input)) {
    if (purpose.trim() === '' || purpose !== purpose.trim()) {
      throw new ConfigError(`policies: purpose names must be non-empty and untrimmed-space free, got ${JSON.stringify(purpose)}`, ErrorCodes.POLICY_INVALID);
    }
    if (known && !known.includes(purpose)) {
      throw new ConfigError(
        `policies: unknown purpose ${JSON.stringify(purpose)}; expected one of ${known.map((k) => JSON.stringify(k)).join(', ')}`,
        ErrorCodes.POLICY_UNKNOWN,
      );
    }
    out[purpose] = parsePolicyEntry(purpose, value);
  }
  if (Object.keys(out).length === 0) {
    throw new ConfigError('policies: at least one purpose is required', ErrorCodes.POLICY_INVALID);
  }
  return Object.freeze(out);
}

/** A purpose's entry: a duration (`"365d"`), or `{ "retention": "1y", "retainedUnder": "<statute>" }`. */
function parsePolicyEntry(purpose: string, value: unknown): Retention {
  const field = `policy ${JSON.stringify(purpose)}`;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return parseRetention(value, `${field}: retention`);
  const { retention, retainedUnder, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    throw new ConfigError(
      `${field}: unknown field ${JSON.stringify(unknown[0])}; expected "retention" and optionally "retainedUnder"`,
      ErrorCodes.POLICY_INVALID,
    );
  }
  const r = parseRetention(retention, `${field}: retention`);
  if (retainedUnder === undefined || retainedUnder === null) return r;
  if (typeof retainedUnder !== 'string' || retainedUnder.trim() === '' || retainedUnder.length > 200) {
    throw new ConfigError(
      `${field}: retainedUnder must name the statute in 1 to 200 characters, like "Income-tax Act 1961 s.44AA", got ${JSON.stringify(retainedUnder)}`,
      ErrorCodes.POLICY_INVALID,
    );
  }
  return { ...r, retainedUnder: retainedUnder.trim() };
}

/** Purpose -> interval text (run summaries, `lethe policies`): the retentions alone. */
export function policiesToJson(p: PolicySet): Record<string, string> {
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, retentionToInterval(v)]));
}

/**
 * The form stored in `lethe_policy_versions.policies`: interval text, or an object with the
 * statute for purposes with a retention duty (older versions hold plain text only).
 */
export function policiesToStoredJson(p: PolicySet): Record<string, string | { retention: string; retainedUnder: string }> {
  return Object.fromEntries(
    Object.entries(p).map(([k, v]) => [k, v.retainedUnder ? { retention: retentionToInterval(v), retainedUnder: v.retainedUnder } : retentionToInterval(v)]),
  );
}

/** Purpose -> statute, for the purposes that declare a retention duty. */
export function retainedUnderOf(p: PolicySet): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(p)) if (v.retainedUnder) out.set(k, v.retainedUnder);
  return out;
}

export function policiesFromJson(json: unknown): PolicySet {
  return parsePolicies(json);
}
