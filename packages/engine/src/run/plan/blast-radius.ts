import type { Queryable } from '../../db/pool.js';

export interface BlastRadiusOptions {
  /** Refuse a run that would erase more than this (0 = no cap). */
  readonly maxDeletesPerRun: number;
  /** Refuse a run that would erase more than this many times the median of recent runs... */
  readonly factor: number;
  /** ...but only when that figure is above this floor (small runs never trip the median rule). */
  readonly floor: number;
}

export interface BlastRadiusCheck {
  readonly wouldErase: number;
  readonly countCapped: boolean;
  readonly medianRecent: number | null;
  readonly recentRuns: number;
  readonly threshold: number | null;
  readonly allowed: boolean;
  readonly reason: string | null;
}

/** Median `deleted_count` of the last 10 completed real retention runs (an erasure request's run names its rows: not a backlog). */
export async function recentMedian(db: Queryable): Promise<{ median: number | null; runs: number }> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT (summary->>'deleted_count')::int AS n FROM lethe_runs
      WHERE status = 'completed' AND NOT dry_run AND summary IS NOT NULL AND trigger <> 'request' ORDER BY started_at DESC LIMIT 10`,
  );
  if (rows.length === 0) return { median: null, runs: 0 };
  const sorted = rows.map((r) => r.n).sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return { median: sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2, runs: rows.length };
}

/** The threshold a run is judged against: the cap, and K x the recent median above a floor. */
export function blastRadiusThreshold(o: BlastRadiusOptions, median: number | null): number | null {
  const byMedian = median === null ? null : Math.max(o.floor, Math.ceil(o.factor * median));
  const cap = o.maxDeletesPerRun > 0 ? o.maxDeletesPerRun : null;
  if (byMedian === null) return cap;
  return cap === null ? byMedian : Math.min(cap, byMedian);
}

export function judgeBlastRadius(
  o: BlastRadiusOptions,
  wouldErase: number,
  countCapped: boolean,
  recent: { median: number | null; runs: number },
): BlastRadiusCheck {
  const threshold = blastRadiusThreshold(o, recent.median);
  const over = threshold !== null && (wouldErase > threshold || countCapped);
  const reason = !over
    ? null
    : `this run would erase ${countCapped ? 'more than ' : ''}${wouldErase} files, above the blast-radius threshold ${threshold}` +
      ` (cap ${o.maxDeletesPerRun || 'none'}; ${recent.median === null ? 'no completed runs yet' : `${o.factor}x the median ${recent.median} of the last ${recent.runs} runs, floor ${o.floor}`})`;
  return { wouldErase, countCapped, medianRecent: recent.median, recentRuns: recent.runs, threshold, allowed: !over, reason };
}
