import type { Queryable } from '../pool.js';

/**
 * `audit_logs` actions Lethe writes. Only finished real runs use `cleanup_expired_jobs`, so the
 * runbook's queries (OP-004, Compliance Reporting) count real runs only (DESIGN "Runs and records").
 */
export const AuditActions = {
  RUN: 'cleanup_expired_jobs',
  DRY_RUN: 'cleanup_dry_run',
  PAUSED: 'cleanup_paused',
  RESUMED: 'cleanup_resumed',
  POLICY_CHANGED: 'cleanup_policy_changed',
  MIGRATED: 'cleanup_migrated',
  HOLD_PLACED: 'cleanup_hold_placed',
  HOLD_RELEASED: 'cleanup_hold_released',
  BLAST_RADIUS_REFUSED: 'cleanup_blast_radius_refused',
  FAILURE_BREAKER: 'cleanup_failure_breaker',
  WORKER_FINISHED: 'cleanup_worker_finished',
  /** docs/rights.md: an erasure request stored, and its completion record. */
  ERASURE_REQUESTED: 'cleanup_erasure_requested',
  ERASURE_COMPLETED: 'cleanup_erasure_completed',
} as const;

export type AuditAction = (typeof AuditActions)[keyof typeof AuditActions] | `cleanup_${string}`;

/** Every Lethe row says so in `details.source`, so pruning can never touch the platform's rows. */
export async function writeAudit(db: Queryable, action: AuditAction, details: Record<string, unknown>): Promise<{ id: string; timestamp: string }> {
  const { rows } = await db.query<{ id: string; timestamp: Date }>(
    `INSERT INTO audit_logs ("timestamp", action, details) VALUES (now(), $1, $2::jsonb) RETURNING id::text AS id, "timestamp"`,
    [action, JSON.stringify({ source: 'lethe', ...details })],
  );
  const row = rows[0]!;
  return { id: row.id, timestamp: row.timestamp.toISOString() };
}
