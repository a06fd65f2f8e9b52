import { RUN_LOCK_KEY, type Queryable } from '@lethe/engine';

/**
 * Claims the slot a catch-up run stands for. Like a scheduled claim it succeeds for one caller
 * only, so replicas that start together (a rollout) catch up once. Unlike one, it may take over a
 * claim whose work is known not to have happened, so a crash or a failed run is caught up on the
 * next start: the claim's run did not complete, no run holds the engine's run lock on this
 * database right now (so the claimer is not running it), and the claim is over a minute old (so
 * its claimer is not between claiming and locking). Rows are locked by ON CONFLICT, so two
 * takeovers of one stale claim cannot both succeed.
 */
const SQL = `
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
  const { rowCount } = await db.query(SQL, [slotIso, instanceId, RUN_LOCK_KEY]);
  return rowCount === 1;
}
