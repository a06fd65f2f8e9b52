import type { Queryable } from '../pool.js';
import { RUN_LOCK_KEY } from '../../run/lock.js';

/** A daemon's heartbeat row (runbook OP-002 "next run", OP-003 "scheduler running", FM-001). */
export interface SchedulerBeat {
  readonly instanceId: string;
  readonly host: string;
  readonly pid: number;
  readonly version: string;
  readonly schedule: string;
  readonly timezone: string;
  /** The schedule's period (time between two fires), for "overdue" judgements. */
  readonly periodMs: number;
  readonly nextRun: string | null;
  readonly state: 'running' | 'stopped';
}

export interface SchedulerRow extends SchedulerBeat {
  readonly startedAt: string;
  readonly lastBeat: string;
  /** Running and beating within the stale timeout. */
  readonly alive: boolean;
}

export async function writeHeartbeat(db: Queryable, b: SchedulerBeat): Promise<void> {
  await db.query(
    `INSERT INTO lethe_schedulers (instance_id, host, pid, version, schedule, timezone, period_ms, next_run, state)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (instance_id) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid, version = EXCLUDED.version,
       schedule = EXCLUDED.schedule, timezone = EXCLUDED.timezone, period_ms = EXCLUDED.period_ms,
       next_run = EXCLUDED.next_run, state = EXCLUDED.state, last_beat = now()`,
    [b.instanceId, b.host, b.pid, b.version, b.schedule, b.timezone, b.periodMs, b.nextRun, b.state],
  );
}

/**
 * A daemon that stopped cleanly stays listed this long after its last beat (runbook OP-003
 * "Schedulers listed"), then leaves `lethe status` and health: a decommissioned replica is not
 * news a week later. A daemon that died without stopping (STALE) stays listed: that one is news.
 */
export const DEFAULT_STOPPED_RETENTION_MS = 7 * 86_400_000;

export async function readSchedulers(db: Queryable, staleAfterMs: number, stoppedRetentionMs = DEFAULT_STOPPED_RETENTION_MS): Promise<SchedulerRow[]> {
  const { rows } = await db.query<{
    instance_id: string;
    host: string;
    pid: number;
    version: string;
    schedule: string;
    timezone: string;
    period_ms: string;
    next_run: Date | null;
    state: 'running' | 'stopped';
    started_at: Date;
    last_beat: Date;
    alive: boolean;
  }>(
    `SELECT *, (state = 'running' AND last_beat > now() - ($1::bigint * interval '1 millisecond')) AS alive
       FROM lethe_schedulers
      WHERE NOT (state = 'stopped' AND last_beat < now() - ($2::bigint * interval '1 millisecond'))
      ORDER BY last_beat DESC LIMIT 100`,
    [staleAfterMs, stoppedRetentionMs],
  );
  return rows.map((r) => ({
    instanceId: r.instance_id,
    host: r.host,
    pid: r.pid,
    version: r.version,
    schedule: r.schedule,
    timezone: r.timezone,
    periodMs: Number(r.period_ms),
    nextRun: r.next_run?.toISOString() ?? null,
    state: r.state,
    startedAt: r.started_at.toISOString(),
    lastBeat: r.last_beat.toISOString(),
    alive: r.alive,
  }));
}

/** Claims one scheduled fire time; true for exactly one caller per slot across all replicas. */
export async function claimScheduleSlot(db: Queryable, slot: string, instanceId: string): Promise<boolean> {
  const { rowCount } = await db.query(`INSERT INTO lethe_schedule_claims (slot, instance_id) VALUES ($1, $2) ON CONFLICT (slot) DO NOTHING`, [
    slot,
    instanceId,
  ]);
  return rowCount === 1;
}

/**
 * Claims the slot a catch-up run stands for. Like a scheduled claim it succeeds for one caller
 * only, so replicas that start together (a rollout) catch up once. Unlike one, it may take over a
 * claim whose work is known not to have happened, so a crash or a failed run is caught up on the
 * next start: the claim's run did not complete, no run holds the run lock on this
 * database right now (so the claimer is not running it), and the claim is over a minute old (so
 * its claimer is not between claiming and locking). Rows are locked by ON CONFLICT, so two
 * takeovers of one stale claim cannot both succeed.
 */
const CATCH_UP_CLAIM_SQL = `
INSERT INTO lethe_schedule_claims AS c (slot, instance_id) VALUES ($1, $2)
ON CONFLICT (slot) DO UPDATE SET instance_id = EXCLUDED.instance_id, claimed_at = now(), run_id = NULL
 WHERE c.claimed_at < now() - interval '1 minute'
   AND NOT EXISTS (SELECT 1 FROM lethe_runs r WHERE r.id = c.run_id AND r.status = 'completed')
   AND NOT EXISTS (
     SELECT 1 FROM pg_locks l
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND ((l.classid::bigint << 32) | l.objid::bigint) = $3::bigint)`;

export async function claimCatchUpSlot(db: Queryable, slotIso: string, instanceId: string): Promise<boolean> {
  const { rowCount } = await db.query(CATCH_UP_CLAIM_SQL, [slotIso, instanceId, RUN_LOCK_KEY]);
  return rowCount === 1;
}

export async function attachRunToSlot(db: Queryable, slot: string, runId: string): Promise<void> {
  await db.query('UPDATE lethe_schedule_claims SET run_id = $2 WHERE slot = $1', [slot, runId]);
}
