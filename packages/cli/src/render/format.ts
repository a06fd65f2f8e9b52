import { formatSeconds } from '@lethe/engine';

/**
 * Small formatting shared by the human outputs: counts with separators, times in UTC, durations
 * in days/hours/minutes, and aligned columns. JSON output never goes through these.
 */

/**
 * `1234567` -> `1,234,567`, as `toLocaleString('en-US')` writes it. Integers are grouped here:
 * the first `toLocaleString` of a process loads ICU's number formatting, ~30 ms of every run's
 * summary line (docs/performance.md#start-up). Other numbers still go through ICU.
 */
export function count(n: number): string {
  if (!Number.isSafeInteger(n)) return n.toLocaleString('en-US');
  const digits = String(Math.abs(n));
  let grouped = digits.slice(0, digits.length % 3 || 3);
  for (let i = grouped.length; i < digits.length; i += 3) grouped += `,${digits.slice(i, i + 3)}`;
  return n < 0 || Object.is(n, -0) ? `-${grouped}` : grouped;
}

/** `2025-11-30T02:00:15.123456Z` -> `2025-11-30 02:00:15Z`. */
export function time(iso: string | null | undefined): string {
  if (!iso) return '-';
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '-';
  if (seconds < 60 && seconds >= 0) return `${Math.round(seconds * 10) / 10}s`;
  return formatSeconds(seconds);
}

/** `-3600` -> `1h ago`, `7200` -> `in 2h`. */
export function relative(seconds: number): string {
  return seconds < 0 ? `${duration(-seconds)} ago` : `in ${duration(seconds)}`;
}

export const plural = (n: number, noun: string, nouns = `${noun}s`): string => `${count(n)} ${n === 1 ? noun : nouns}`;

/** `1 row`, `2 rows`, `1,000+ rows` (a capped count is a lower bound, so always plural). */
export const atLeast = (n: number, capped: boolean, noun: string, nouns = `${noun}s`): string =>
  `${count(n)}${capped ? '+' : ''} ${n === 1 && !capped ? noun : nouns}`;

/** Left-aligned columns separated by two spaces; numbers are right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^[\d,.%-]+$/.test(r[i] ?? '')));
  return all.map((r) =>
    r
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

/**
 * `EISDIR` + `EISDIR: not a deletable file (...)` -> `EISDIR: not a deletable file (...)`: storage
 * messages often start with their code already, and `EISDIR EISDIR: ...` reads as a stutter.
 */
export function codeMessage(code: string, message: string): string {
  return message === code || message.startsWith(`${code}:`) || message.startsWith(`${code} `) ? message : `${code} ${message}`;
}

/** The policy order of the runbook's retention table; other purposes follow, alphabetically. */
export const PURPOSE_ORDER: readonly string[] = ['System Testing', 'General', 'Financial', 'Legal', 'Medical'];

/** A by-purpose record's entries in policy order, whatever order the database returned them in. */
export function inPurposeOrder<T>(byPurpose: Readonly<Record<string, T>>): [string, T][] {
  const rank = (p: string): number => {
    const i = PURPOSE_ORDER.indexOf(p);
    return i === -1 ? PURPOSE_ORDER.length : i;
  };
  return Object.entries(byPurpose).sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}
