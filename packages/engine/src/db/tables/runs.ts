import { AuditActions, writeAudit } from './audit.js';
import type { Queryable } from '../pool.js';
import type { RunStatus, RunSummary, RunTrigger } from '../../run/summary.js';
import type { RunChainHead } from './ledger-chain.js';

/** Lethe's runs table: a row from a run's start, so a run whose process died stays visible. */
export interface RunStart {
  readonly id: string;
  readonly trigger: RunTrigger;
  readonly dryRun: boolean;
  readonly cutoff: string;
  readonly policyVersion: number;
  readonly host: string;
  readonly pid: number;
  readonly version: string;
  readonly groupId?: string | null;
  readonly shard?: string | null;
}

export async function insertRun(db: Queryable, r: RunStart): Promise<void> {
  await db.query(
    `INSERT INTO lethe_runs (id, trigger, status, dry_run, cutoff, policy_version, host, pid, version, group_id, shard)
     VALUES ($1, $2, 'running', $3, $4, $5, $6, $7, $8, $9, $10)`,
    [r.id, r.trigger, r.dryRun, r.cutoff, r.policyVersion, r.host, r.pid, r.version, r.groupId ?? null, r.shard ?? null],
  );
}

export async function touchRun(db: Queryable, id: string): Promise<void> {
  await db.query(`UPDATE lethe_runs SET heartbeat_at = now() WHERE id = $1 AND status = 'running'`, [id]);
}

export async function recordProgress(db: Queryable, id: string, progress: object): Promise<void> {
  await db.query(`UPDATE lethe_runs SET progress = $2::jsonb, heartbeat_at = now() WHERE id = $1`, [id, JSON.stringify(progress)]);
}

/** The run's end, with its ledger chain head when it wrote ledger rows (docs/safety.md#tamper-evident-ledger). */
export async function finishRun(db: Queryable, summary: RunSummary, chain: RunChainHead | null = null): Promise<void> {
  await db.query(
    `UPDATE lethe_runs SET status = $2, ended_at = now(), heartbeat_at = now(), summary = $3::jsonb, error = $4,
            chain_seq = coalesce($5::bigint, chain_seq), chain_head = coalesce($6, chain_head), chain_signature = coalesce($7, chain_signature)
      WHERE id = $1`,
    [
      summary.run_id,
      summary.status,
      JSON.stringify(summary),
      summary.error?.message ?? null,
      chain?.seq ?? null,
      chain?.head ?? null,
      chain?.signature ?? null,
    ],
  );
}

export interface InterruptedRun {
  readonly id: string;
  readonly startedAt: string;
  readonly deleted: number;
}

/**
 * Called by a run that holds the lock: any run still marked `running` belongs to a process that
 * died. It becomes `interrupted`, and gets its audit row now, with the counts its ledger rows
 * prove, so the runbook's history and monthly sums include what it did erase.
 */
export async function closeInterruptedRuns(db: Queryable): Promise<InterruptedRun[]> {
  // Group workers that died are accounted for by their group's single audit row (run/group.ts).
  await db.query(`UPDATE lethe_runs SET status = 'interrupted', ended_at = now(), error = 'the worker process stopped before it finished'
                   WHERE status = 'running' AND group_id IS NOT NULL`);
  const { rows } = await db.query<{
    id: string;
    started_at: Date;
    dry_run: boolean;
    cutoff: Date | null;
    policy_version: number | null;
    trigger: string;
    host: string | null;
    erased: number;
    absent: number;
    failed: number;
  }>(
    `WITH r AS (
       UPDATE lethe_runs SET status = 'interrupted', ended_at = now(), error = 'the process running it stopped before it finished'
        WHERE status = 'running' AND group_id IS NULL RETURNING id, started_at, dry_run, cutoff, policy_version, trigger, host)
     SELECT r.*,
            count(*) FILTER (WHERE l.outcome IN ('erased', 'trashed'))::int AS erased, -- trashed: an undo-window erasure (docs/safety.md#undo-window-default-off)
            count(*) FILTER (WHERE l.outcome = 'absent')::int AS absent,
            count(*) FILTER (WHERE l.outcome = 'failed')::int AS failed
       FROM r LEFT JOIN lethe_ledger l ON l.run_id = r.id
      GROUP BY r.id, r.started_at, r.dry_run, r.cutoff, r.policy_version, r.trigger, r.host`,
  );
  const out: InterruptedRun[] = [];
  for (const r of rows) {
    const deleted = r.erased + r.absent;
    await writeAudit(db, r.dry_run ? AuditActions.DRY_RUN : AuditActions.RUN, {
      run_id: r.id,
      status: 'interrupted',
      trigger: r.trigger,
      dry_run: r.dry_run,
      started_at: r.started_at.toISOString(),
      cutoff: r.cutoff?.toISOString() ?? null,
      policy_version: r.policy_version,
      host: r.host,
      deleted_count: deleted,
      erased_count: r.erased,
      absent_count: r.absent,
      failed_count: r.failed,
      failed_files: [],
      errors: [],
      duration_seconds: null,
      error: { code: 'LETHE_E_INTERRUPTED', message: 'the process running this run stopped before it finished; counts are from its ledger rows' },
    });
    out.push({ id: r.id, startedAt: r.started_at.toISOString(), deleted });
  }
  return out;
}
