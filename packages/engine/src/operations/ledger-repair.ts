import { writeAudit, type AuditAction } from '../audit.js';
import type { Engine } from '../engine.js';
import type { KeyOutcome } from '../ports.js';
import type { LedgerFinding } from './ledger-verify.js';

/**
 * `lethe verify --ledger --repair`: files the ledger records as gone but found in storage are
 * erased again through the storage port's `deleteMany` (the same adapter, key checks and outcomes
 * as a run), recorded as ledger rows `reerased` (copied from the finding's ledger row) and one
 * audit row. Held keys are never touched. The caller holds the run lock.
 */
export const LEDGER_REERASED: AuditAction = 'cleanup_ledger_reerased';

export interface RepairCounts {
  /** Findings now gone: erased again, or found already gone at the repair. */
  readonly repaired: number;
  readonly repair_failed: number;
}

const CHUNK = 1000;

export async function repairFindings(engine: Engine, verifyId: string, findings: readonly LedgerFinding[], by: string): Promise<{ findings: LedgerFinding[]; counts: RepairCounts }> {
  const storage = engine.storage();
  const todo = findings.filter((f) => !f.held);
  const outcomes = new Map<string, KeyOutcome>();
  for (let i = 0; i < todo.length; i += CHUNK) {
    const keys = [...new Set(todo.slice(i, i + CHUNK).map((f) => f.file_key))];
    for (const o of await storage.deleteMany(keys)) outcomes.set(o.key, o);
  }
  const out = findings.map((f): LedgerFinding => {
    if (f.held) return { ...f, repair: 'skipped_held' };
    const o = outcomes.get(f.file_key);
    if (o && (o.outcome === 'erased' || o.outcome === 'absent')) return { ...f, repair: o.outcome };
    return { ...f, repair: 'failed', repair_error: o ? `${o.code ?? o.outcome}: ${o.message ?? ''}` : 'no outcome' };
  });
  const done = out.filter((f) => f.repair === 'erased' || f.repair === 'absent');
  const failed = out.filter((f) => f.repair === 'failed');
  if (done.length > 0) {
    await engine.pool.query(
      `INSERT INTO lethe_ledger (run_id, job_id, file_key, purpose_code, created_at, expires_at, outcome, error_code, error, policy_version)
       SELECT $1::uuid, l.job_id, l.file_key, l.purpose_code, l.created_at, l.expires_at, 'reerased',
              CASE WHEN d.absent THEN 'LETHE_ALREADY_GONE' END, 'erased again: the ledger recorded it gone, storage still had it', l.policy_version
         FROM unnest($2::bigint[], $3::boolean[]) AS d(id, absent) JOIN lethe_ledger l ON l.id = d.id`,
      [verifyId, done.map((f) => f.ledger_id), done.map((f) => f.repair === 'absent')],
    );
  }
  if (done.length > 0 || failed.length > 0) {
    await writeAudit(engine.pool, LEDGER_REERASED, {
      verify_id: verifyId, by, storage: storage.describe, repaired: done.length, repair_failed: failed.length,
      ledger_keys: done.slice(0, 100).map((f) => f.ledger_key),
      failures: failed.slice(0, 20).map((f) => ({ ledger_key: f.ledger_key, error: f.repair_error })),
    });
  }
  return { findings: out, counts: { repaired: done.length, repair_failed: failed.length } };
}
