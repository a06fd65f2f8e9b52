import type pg from 'pg';
import { AuditActions, writeAudit } from '../db/tables/audit.js';
import type { BlastRadiusCheck } from './plan/blast-radius.js';
import { withTransaction } from '../db/pool.js';
import { ConfigError, ErrorCodes, LetheError } from '../errors.js';
import type { RunSummary } from './summary.js';

/**
 * Scale-out (DESIGN "Scale past one machine"): several processes are workers of one logical run,
 * a group. The first worker fixes the group's cutoff and policy version and judges its whole
 * backlog by the blast-radius guard; a later worker abides by that verdict and is refused once the
 * policy version has changed. Every worker claims disjoint batches (SKIP LOCKED, optionally a
 * static hash shard); the last worker out writes the group's single `cleanup_expired_jobs` audit
 * row, so the runbook counts one run.
 */
export interface GroupInfo {
  readonly groupId: string;
  readonly cutoff: string;
  readonly policyVersion: number;
  readonly shardCount: number | null;
  /** The group's blast-radius judgement (null only for a group made by a Lethe that did not judge). */
  readonly blastRadius: GroupBlastRadius | null;
  /** True for the worker that created the group (and judged it). */
  readonly created: boolean;
}

/**
 * The blast-radius guard's verdict on a group's whole backlog, made once by the worker that
 * creates the group (docs/safety.md#blast-radius-guard). `refused` stands until a worker started
 * with allowLarge overrides it (`allowed_large`).
 */
export interface GroupBlastRadius {
  readonly decision: 'allowed' | 'allowed_large' | 'refused';
  /** null when nothing bounds the run (no cap, no completed runs yet). */
  readonly check: BlastRadiusCheck | null;
  /** The purposes judged: a worker may not take rows of any other. */
  readonly purposes: readonly string[];
}

export interface JoinRequest {
  readonly groupId: string;
  /** The current policy version: a group started under another one takes no more workers. */
  readonly policyVersion: number;
  readonly shardCount: number | null;
  /** Called only by the worker that creates the group, with the group's cutoff, while no other worker can join it. */
  readonly judge: (cutoff: string) => Promise<GroupBlastRadius>;
}

const GROUP_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** Where the verdict is kept: lethe_run_groups.blast_radius (migration 6). */
const VERDICT_SQL = `blast_radius`;
const SET_VERDICT_SQL = `blast_radius = $2::jsonb`;

export function validateGroupId(id: string): string {
  if (!GROUP_RE.test(id))
    throw new ConfigError(`group: expected 1-128 letters, digits, '.', '_', ':' or '-' (e.g. the Kubernetes Job name), got ${JSON.stringify(id)}`);
  return id;
}

/**
 * Joins (or creates) a group; refuses a finished group, a shard count that disagrees and a group
 * started under a superseded policy version.
 */
export async function joinGroup(db: pg.Pool, req: JoinRequest): Promise<GroupInfo> {
  const { groupId, shardCount } = req;
  const created = await createGroup(db, req);
  const { rows } = await db.query<{
    cutoff: string;
    policy_version: number;
    shard_count: number | null;
    finalized_at: Date | null;
    blast_radius: GroupBlastRadius | null;
  }>(
    `SELECT to_char(cutoff AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cutoff, policy_version, shard_count, finalized_at, ${VERDICT_SQL} AS blast_radius
       FROM lethe_run_groups WHERE group_id = $1`,
    [groupId],
  );
  const g = rows[0]!;
  if (g.finalized_at) {
    throw new LetheError(
      ErrorCodes.GROUP_FINISHED,
      `group ${JSON.stringify(groupId)} already finished at ${g.finalized_at.toISOString()}; start a new run with a new group id`,
    );
  }
  if ((g.shard_count ?? null) !== shardCount) {
    throw new ConfigError(
      `shard: group ${JSON.stringify(groupId)} runs with ${g.shard_count === null ? 'no shards' : `${g.shard_count} shards`}; every worker of a group must use the same --shard i/N (got ${shardCount === null ? 'none' : `N=${shardCount}`})`,
    );
  }
  if (g.policy_version !== req.policyVersion) {
    throw new LetheError(
      ErrorCodes.POLICY_CHANGED,
      `group ${JSON.stringify(groupId)} started under policy version ${g.policy_version}; the current version is ${req.policyVersion} (a policy was set or reverted since): its workers must not delete under a superseded policy; start a new group with a new id`,
    );
  }
  return { groupId, cutoff: g.cutoff, policyVersion: g.policy_version, shardCount: g.shard_count, blastRadius: g.blast_radius, created };
}

/**
 * INSERT ... ON CONFLICT DO NOTHING makes exactly one worker the creator. It judges the group
 * before committing: a worker arriving meanwhile waits in its own INSERT for that commit, so it
 * always sees the verdict; if the creator dies first, its insert is undone and the waiter creates
 * (and judges) the group itself.
 */
async function createGroup(db: pg.Pool, req: JoinRequest): Promise<boolean> {
  return withTransaction(db, async (client) => {
    const { rows } = await client.query<{ cutoff: string }>(
      `INSERT INTO lethe_run_groups (group_id, cutoff, policy_version, shard_count) VALUES ($1, now(), $2, $3) ON CONFLICT (group_id) DO NOTHING
       RETURNING to_char(cutoff AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cutoff`,
      [req.groupId, req.policyVersion, req.shardCount],
    );
    const cutoff = rows[0]?.cutoff;
    if (cutoff === undefined) return false;
    const verdict = await req.judge(cutoff);
    await client.query(`UPDATE lethe_run_groups SET ${SET_VERDICT_SQL} WHERE group_id = $1`, [req.groupId, JSON.stringify(verdict)]);
    return true;
  });
}

/** A worker started with allowLarge lifts a group's refusal (an operator has checked the numbers). */
export async function overrideGroupRefusal(db: pg.Pool, groupId: string, verdict: GroupBlastRadius): Promise<GroupBlastRadius> {
  const next: GroupBlastRadius = { ...verdict, decision: 'allowed_large' };
  await db.query(`UPDATE lethe_run_groups SET ${SET_VERDICT_SQL} WHERE group_id = $1 AND finalized_at IS NULL`, [groupId, JSON.stringify(next)]);
  return next;
}

/** Workers of the group whose heartbeat stopped (a killed process) become `interrupted`. */
export async function closeDeadWorkers(db: pg.Pool, groupId: string, staleMs: number): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE lethe_runs SET status = 'interrupted', ended_at = now(), error = 'the worker process stopped before it finished'
      WHERE group_id = $1 AND status = 'running' AND heartbeat_at < now() - ($2::bigint * interval '1 millisecond')`,
    [groupId, staleMs],
  );
  return rowCount ?? 0;
}

type WorkerRow = { id: string; status: string; shard: string | null; summary: RunSummary | null; erased: number; absent: number; failed: number };

/**
 * Called by each worker as it ends. When no worker of the group is still running (and, with
 * shards, every shard has completed), the first to claim the group writes its audit row: counts
 * summed over the workers (an interrupted worker counts what its ledger rows prove).
 */
export async function finalizeGroupIfDone(db: pg.Pool, groupId: string, staleMs: number): Promise<Record<string, unknown> | null> {
  await closeDeadWorkers(db, groupId, staleMs);
  const { rows } = await db.query<WorkerRow>(
    `SELECT r.id, r.status, r.shard, r.summary,
            (SELECT count(*) FILTER (WHERE l.outcome IN ('erased', 'trashed'))::int FROM lethe_ledger l WHERE l.run_id = r.id) AS erased,
            (SELECT count(*) FILTER (WHERE l.outcome = 'absent')::int FROM lethe_ledger l WHERE l.run_id = r.id) AS absent,
            (SELECT count(*) FILTER (WHERE l.outcome = 'failed')::int FROM lethe_ledger l WHERE l.run_id = r.id) AS failed
       FROM lethe_runs r WHERE r.group_id = $1`,
    [groupId],
  );
  if (rows.some((r) => r.status === 'running')) return null;
  const group = await db.query<{ shard_count: number | null; blast_radius: GroupBlastRadius | null }>(
    `SELECT shard_count, ${VERDICT_SQL} AS blast_radius FROM lethe_run_groups WHERE group_id = $1`,
    [groupId],
  );
  const shardCount = group.rows[0]?.shard_count ?? null;
  if (shardCount !== null) {
    const done = new Set(rows.filter((r) => r.status === 'completed').map((r) => r.shard));
    for (let i = 0; i < shardCount; i++) if (!done.has(`${i}/${shardCount}`)) return null;
  } else if (!rows.some((r) => r.status === 'completed')) {
    return null;
  }
  const details = { ...aggregate(groupId, rows), blast_radius: group.rows[0]?.blast_radius ?? null };
  const claimed = await db.query(`UPDATE lethe_run_groups SET finalized_at = now(), summary = $2::jsonb WHERE group_id = $1 AND finalized_at IS NULL`, [
    groupId,
    JSON.stringify(details),
  ]);
  if (claimed.rowCount !== 1) return null;
  await writeAudit(db, AuditActions.RUN, details);
  return details;
}

function aggregate(groupId: string, workers: readonly WorkerRow[]): Record<string, unknown> {
  const sum = (f: (w: WorkerRow) => number): number => workers.reduce((a, w) => a + f(w), 0);
  const s = (w: WorkerRow) => w.summary;
  const byPurpose: Record<string, Record<string, number>> = {};
  for (const w of workers) {
    for (const [p, c] of Object.entries(w.summary?.by_purpose ?? {})) {
      const acc = (byPurpose[p] ??= {});
      for (const [k, v] of Object.entries(c)) acc[k] = (acc[k] ?? 0) + v;
    }
  }
  const first = workers.map(s).find((x) => x !== null) ?? null;
  const capped = <T>(f: (x: RunSummary) => readonly T[], cap: number): T[] => workers.flatMap((w) => (w.summary ? [...f(w.summary)] : [])).slice(0, cap);
  const starts = workers
    .map((w) => w.summary?.started_at)
    .filter((x): x is string => !!x)
    .sort();
  const ends = workers
    .map((w) => w.summary?.ended_at)
    .filter((x): x is string => !!x)
    .sort();
  return {
    run_id: groupId,
    group_id: groupId,
    status: workers.every((w) => w.status === 'completed') ? 'completed' : 'completed_with_interrupted_workers',
    trigger: 'group',
    dry_run: false,
    workers: workers.map((w) => ({ run_id: w.id, status: w.status, shard: w.shard, deleted_count: w.summary ? w.summary.deleted_count : w.erased + w.absent })),
    cutoff: first?.cutoff ?? null,
    policy_version: first?.policy_version ?? null,
    deleted_count: sum((w) => (w.summary ? w.summary.deleted_count : w.erased + w.absent)),
    failed_count: sum((w) => (w.summary ? w.summary.failed_count : w.failed)),
    erased_count: sum((w) => (w.summary ? w.summary.erased_count : w.erased)),
    absent_count: sum((w) => (w.summary ? w.summary.absent_count : w.absent)),
    refused_count: sum((w) => w.summary?.refused_count ?? 0),
    shared_count: sum((w) => w.summary?.shared_count ?? 0),
    held_count: sum((w) => w.summary?.held_count ?? 0),
    by_purpose: byPurpose,
    failed_files: capped((x) => x.failed_files, 100),
    errors: capped((x) => x.errors, 100),
    erased_keys: capped((x) => x.erased_keys, 1000),
    erased_keys_truncated: workers.some((w) => w.summary?.erased_keys_truncated) || sum((w) => w.summary?.erased_keys.length ?? 0) > 1000,
    started_at: starts[0] ?? null,
    ended_at: ends[ends.length - 1] ?? null,
    duration_seconds: starts[0] && ends.length ? (Date.parse(ends[ends.length - 1]!) - Date.parse(starts[0])) / 1000 : null,
  };
}
