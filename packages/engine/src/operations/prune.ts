import { writeAudit, type AuditAction } from '../db/tables/audit.js';
import type { Queryable } from '../db/pool.js';
import type { Engine } from '../engine.js';
import { ConfigError, ErrorCodes } from '../errors.js';
import { parseRetention, retentionToInterval } from '../policy/retention.js';
import { activeHeldLedgerKeys } from '../run/purge-due.js';

/**
 * Retention of evidence (docs/safety.md#retention-of-evidence). DPDP Rules 2025 keep processing logs for at least one year
 * (rules 6(1)(e) and 8(3)): `audit_logs` and ledger rows younger than a year are never pruned, and
 * pruning older ones is this explicit command. Only rows Lethe wrote (`details.source = 'lethe'`)
 * are touched, never the platform's own audit rows (DESIGN "audit_logs may already exist"). Kept
 * whatever their age: trash rows still waiting for their purge, and ledger rows of held keys.
 * Without `confirm` it only counts. Deletes go in batches (short transactions).
 */
export const EVIDENCE_PRUNED: AuditAction = 'cleanup_evidence_pruned';

export interface PruneOptions {
  /** A duration in the policy syntax ("2y", "400d", "18 months"); at least one year. */
  readonly olderThan: string;
  readonly confirm?: boolean;
  readonly by: string;
  readonly batchSize?: number;
}

export interface PruneReport {
  readonly older_than: string;
  /** Rows before this instant are pruned (database clock). */
  readonly cutoff: string;
  readonly dry_run: boolean;
  readonly audit_rows: number;
  readonly ledger_rows: number;
  readonly audit_id: string | null;
}

const AUDIT_FILTER = `"timestamp" < $1::timestamptz AND details->>'source' = 'lethe'`;
const LEDGER_FILTER = `erased_at < $1::timestamptz AND NOT (outcome = 'trashed' AND settled_at IS NULL) AND file_key <> ALL($2::text[])`;

export async function pruneEvidence(engine: Engine, o: PruneOptions): Promise<PruneReport> {
  const retention = parseRetention(o.olderThan, '--older-than');
  const interval = retentionToInterval(retention);
  const db = engine.pool;
  const { rows } = await db.query<{ cutoff: Date; too_young: boolean }>(
    `SELECT now() - $1::interval AS cutoff, now() - $1::interval > now() - interval '1 year' AS too_young`,
    [interval],
  );
  const { cutoff, too_young: tooYoung } = rows[0]!;
  if (tooYoung) {
    throw new ConfigError(
      `--older-than: evidence younger than one year is never pruned (DPDP Rules 2025, rules 6(1)(e) and 8(3)); got ${JSON.stringify(o.olderThan)}, use at least "1y"`,
      ErrorCodes.EVIDENCE_TOO_YOUNG,
    );
  }
  const held = await activeHeldLedgerKeys(db, engine.options);
  const base = { older_than: interval, cutoff: cutoff.toISOString(), dry_run: o.confirm !== true };
  if (!o.confirm) {
    const [a, l] = await Promise.all([
      db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_logs WHERE ${AUDIT_FILTER}`, [cutoff]),
      db.query<{ n: number }>(`SELECT count(*)::int AS n FROM lethe_ledger WHERE ${LEDGER_FILTER}`, [cutoff, held]),
    ]);
    return { ...base, audit_rows: a.rows[0]!.n, ledger_rows: l.rows[0]!.n, audit_id: null };
  }
  const batch = o.batchSize ?? 10_000;
  // audit_logs may be the platform's table with no id column: rows are addressed by ctid.
  const auditRows = await deleteInBatches(
    db,
    `DELETE FROM audit_logs WHERE ctid = ANY(ARRAY(SELECT ctid FROM audit_logs WHERE ${AUDIT_FILTER} LIMIT $2))`,
    [cutoff],
    batch,
  );
  const ledgerRows = await deleteInBatches(
    db,
    `DELETE FROM lethe_ledger WHERE id = ANY(ARRAY(SELECT id FROM lethe_ledger WHERE ${LEDGER_FILTER} LIMIT $3))`,
    [cutoff, held],
    batch,
  );
  const audit = await writeAudit(db, EVIDENCE_PRUNED, { by: o.by, older_than: interval, cutoff: base.cutoff, audit_rows: auditRows, ledger_rows: ledgerRows });
  return { ...base, audit_rows: auditRows, ledger_rows: ledgerRows, audit_id: audit.id };
}

async function deleteInBatches(db: Queryable, sql: string, params: unknown[], batch: number): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await db.query(sql, [...params, batch]);
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < batch) return total;
  }
}
