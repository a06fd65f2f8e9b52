import { setTimeout as sleep } from 'node:timers/promises';
import type { Queryable } from '../db/pool.js';

/**
 * Runs going on now (runbook EMERGENCY-001 step 2 "verify no jobs running"). A run's row
 * says `running` from its start, and the run refreshes `heartbeat_at` every few seconds (and its
 * `progress` with it); a row still `running` whose heartbeat is older than `staleAfterMs` belongs
 * to a process that died (the next run records it `interrupted`), so it is not in flight.
 */
export interface RunInFlight {
  readonly id: string;
  readonly trigger: string;
  readonly dry_run: boolean;
  readonly host: string | null;
  readonly pid: number | null;
  readonly version: string | null;
  readonly started_at: string;
  readonly heartbeat_at: string;
  readonly heartbeat_age_seconds: number;
  /** Heartbeat within `staleAfterMs`: the run is alive. */
  readonly fresh: boolean;
  /** The latest progress the run wrote: processed, deleted, failed, total, elapsedMs. */
  readonly progress: Readonly<Record<string, unknown>> | null;
  readonly group_id: string | null;
}

type Row = {
  id: string;
  trigger: string;
  dry_run: boolean;
  host: string | null;
  pid: number | null;
  version: string | null;
  started_at: Date;
  heartbeat_at: Date;
  age_s: number;
  fresh: boolean;
  progress: Record<string, unknown> | null;
  group_id: string | null;
};

/** Every row marked `running` (newest first), each with whether its heartbeat is fresh. */
export async function runsInFlight(db: Queryable, staleAfterMs: number): Promise<RunInFlight[]> {
  const { rows } = await db.query<Row>(
    `SELECT id::text, trigger, dry_run, host, pid, version, started_at, heartbeat_at, progress, group_id,
            extract(epoch FROM now() - heartbeat_at)::float8 AS age_s,
            heartbeat_at > now() - ($1::bigint * interval '1 millisecond') AS fresh
       FROM lethe_runs WHERE status = 'running' ORDER BY started_at DESC LIMIT 100`,
    [staleAfterMs],
  );
  return rows.map((r) => ({
    id: r.id,
    trigger: r.trigger,
    dry_run: r.dry_run,
    host: r.host,
    pid: r.pid,
    version: r.version,
    started_at: r.started_at.toISOString(),
    heartbeat_at: r.heartbeat_at.toISOString(),
    heartbeat_age_seconds: Math.max(0, Math.round(r.age_s * 10) / 10),
    fresh: r.fresh,
    progress: r.progress,
    group_id: r.group_id,
  }));
}

export interface WaitForRunsOptions {
  readonly timeoutMs: number;
  readonly staleAfterMs: number;
  /** How often the runs table is read (default 500 ms). */
  readonly pollMs?: number;
  readonly signal?: AbortSignal;
}

export interface WaitForRunsResult {
  /** No real run is in flight any more. */
  readonly idle: boolean;
  readonly waited_ms: number;
  /** The real runs still in flight when the wait ended (empty when idle). */
  readonly still_running: readonly RunInFlight[];
}

/**
 * Polls until no real run is in flight (dry runs delete nothing and a pause does not stop them,
 * so they are not waited for), or until `timeoutMs`. `lethe pause --wait` uses it after pausing:
 * runs stop at their next batch boundary and record themselves `paused`.
 */
export async function waitForNoRunInFlight(db: Queryable, o: WaitForRunsOptions): Promise<WaitForRunsResult> {
  const started = Date.now();
  const deadline = started + o.timeoutMs;
  for (;;) {
    const live = (await runsInFlight(db, o.staleAfterMs)).filter((r) => r.fresh && !r.dry_run);
    if (live.length === 0) return { idle: true, waited_ms: Date.now() - started, still_running: [] };
    const left = deadline - Date.now();
    if (left <= 0 || o.signal?.aborted) return { idle: false, waited_ms: Date.now() - started, still_running: live };
    await sleep(Math.min(o.pollMs ?? 500, left), undefined, o.signal ? { signal: o.signal } : {}).catch(() => {});
  }
}
