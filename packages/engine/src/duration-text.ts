/**
 * Durations as operators read them, the same in reports, reasons and the CLI. Kept apart from the
 * report so that a command showing a duration (every `lethe run`) does not load the operations
 * entry (docs/performance.md#start-up).
 */

/** `90061` -> `1d 1h`, `3660` -> `1h 1m`, `59` -> `59s`. */
export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const parts: string[] = [];
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) parts.push(`${d}d`);
  if (h) parts.push(`${h}h`);
  if (m && d === 0) parts.push(`${m}m`);
  if (parts.length === 0) parts.push(`${s % 60}s`);
  return parts.join(' ');
}
