import { writeAudit, type AuditAction } from '../db/tables/audit.js';
import type { Queryable } from '../db/pool.js';
import type { Engine } from '../engine.js';
import { ConfigError, ErrorCodes, LetheError } from '../errors.js';
import { withTransaction } from '../db/pool.js';
import { verifyLedgerChain } from './ledger-chain.js';
import { parseRetention, retentionToInterval } from '../policy/retention.js';
import { activeHeldLedgerKeys } from '../run/purge-due.js';

/**
 * Retention of evidence (docs/safety.md#retention-of-evidence). DPDP Rules 2025 keep processing logs for at least one year
 * (rules 6(1)(e) and 8(3)): `audit_logs` and ledger rows younger than a year are never pruned, and
 * pruning older ones is this explicit command. Only rows Lethe wrote (`details.source = 'lethe'`)
 * are touched, never the platform's own audit rows (DESIGN "audit_logs may already exist"). Kept
 * whatever their age: trash rows still waiting for their purge, and ledger rows of held keys.
 * Without `confirm` it only counts. Deletes go in batches (short transactions).
 *
 * The ledger is a hash chain (docs/safety.md#tamper-evident-ledger): chained rows go only as whole
 * batches, from the start of the chain, up to the first batch that holds a row to keep (too young,
 * held, or waiting in the trash); the head of the removed segment becomes the chain's anchor, where
 * `lethe ledger verify` starts. A chain that does not verify is not pruned (LETHE_E_LEDGER_CHAIN):
 * the evidence of the edit would go with it. Rows written before the chain existed are pruned row
 * by row as before.
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
  /** After a confirmed prune: the ledger chain's anchor (the pruned segment's head, or where it was), where verify starts. */
  readonly chain_anchor?: { readonly seq: string; readonly hash: string };
}

const AUDIT_FILTER = `"timestamp" < $1::timestamptz AND details->>'source' = 'lethe'`;
const LEDGER_FILTER = `erased_at < $1::timestamptz AND NOT (outcome = 'trashed' AND settled_at IS NULL) AND file_key <> ALL($2::text[])`;
/** Rows the chain does not cover (written before it): pruned row by row. */
const LEGACY_FILTER = `${LEDGER_FILTER} AND id <= (SELECT start_ledger_id FROM lethe_ledger_chain_head WHERE id = 1)`;

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
      db.query<{ n: number }>(`SELECT count(*)::int AS n FROM lethe_ledger WHERE ${LEGACY_FILTER}`, [cutoff, held]),
    ]);
    const chained = await prunableSegment(db, cutoff, held, null);
    return { ...base, audit_rows: a.rows[0]!.n, ledger_rows: l.rows[0]!.n + chained.rows, audit_id: null };
  }
  const batch = o.batchSize ?? 10_000;
  // audit_logs may be the platform's table with no id column: rows are addressed by ctid.
  const auditRows = await deleteInBatches(
    db,
    `DELETE FROM audit_logs WHERE ctid = ANY(ARRAY(SELECT ctid FROM audit_logs WHERE ${AUDIT_FILTER} LIMIT $2))`,
    [cutoff],
    batch,
  );
  const chain = await verifyLedgerChain(db);
  if (!chain.ok)
    throw new LetheError(
      ErrorCodes.LEDGER_CHAIN,
      `prune: the ledger chain does not verify, so nothing is pruned: ${chain.problems[0]!.message} (run \`lethe ledger verify\`)`,
    );
  const legacyRows = await deleteInBatches(
    db,
    `DELETE FROM lethe_ledger WHERE id = ANY(ARRAY(SELECT id FROM lethe_ledger WHERE ${LEGACY_FILTER} LIMIT $3))`,
    [cutoff, held],
    batch,
  );
  const ledgerRows = legacyRows + (await pruneChainSegment(engine, cutoff, held));
  const anchor = await db.query<{ seq: string; hash: string }>(`SELECT anchor_seq::text AS seq, anchor_hash AS hash FROM lethe_ledger_chain_head WHERE id = 1`);
  const chainAnchor = anchor.rows[0] ?? { seq: '0', hash: '0'.repeat(64) };
  const audit = await writeAudit(db, EVIDENCE_PRUNED, {
    by: o.by,
    older_than: interval,
    cutoff: base.cutoff,
    audit_rows: auditRows,
    ledger_rows: ledgerRows,
    chain_anchor: chainAnchor,
  });
  return { ...base, audit_rows: auditRows, ledger_rows: ledgerRows, audit_id: audit.id, chain_anchor: chainAnchor };
}

async function deleteInBatches(db: Queryable, sql: string, params: unknown[], batch: number): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await db.query(sql, [...params, batch]);
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < batch) return total;
  }
}

const SEGMENT_PAGE = 1000;

interface Segment {
  /** The last batch of the segment (null: nothing to prune). */
  readonly seq: string | null;
  readonly linkHash: string;
  readonly lastLedgerId: string;
  readonly rows: number;
}

/**
 * The longest run of batches from the chain's anchor whose every row may be pruned, at most
 * `maxLinks` (null: no bound). Reads links a page at a time; one EXISTS per link on the id range.
 */
async function prunableSegment(db: Queryable, cutoff: Date, held: readonly string[], maxLinks: number | null): Promise<Segment> {
  const head = await db.query<{ anchor_seq: string }>(`SELECT anchor_seq::text FROM lethe_ledger_chain_head WHERE id = 1`);
  let after = head.rows[0]?.anchor_seq ?? '0';
  let seg: Segment = { seq: null, linkHash: '', lastLedgerId: '', rows: 0 };
  let links = 0;
  for (;;) {
    const limit = maxLinks === null ? SEGMENT_PAGE : Math.min(SEGMENT_PAGE, maxLinks - links);
    if (limit <= 0) return seg;
    const { rows } = await db.query<{ seq: string; link_hash: string; last_ledger_id: string; row_count: number; blocked: boolean }>(
      `SELECT c.seq::text, c.link_hash, c.last_ledger_id::text, c.row_count,
              EXISTS (SELECT 1 FROM lethe_ledger l WHERE l.id BETWEEN c.first_ledger_id AND c.last_ledger_id AND NOT (${LEDGER_FILTER})) AS blocked
         FROM lethe_ledger_chain c WHERE c.seq > $3::bigint ORDER BY c.seq LIMIT $4`,
      [cutoff, held, after, limit],
    );
    for (const r of rows) {
      if (r.blocked) return seg;
      seg = { seq: r.seq, linkHash: r.link_hash, lastLedgerId: r.last_ledger_id, rows: seg.rows + r.row_count };
      links++;
    }
    if (rows.length < limit) return seg;
    after = rows[rows.length - 1]!.seq;
  }
}

/** Removes the prunable segment a page of batches at a time, each under the chain's head lock, and moves the anchor to its head. */
async function pruneChainSegment(engine: Engine, cutoff: Date, held: readonly string[]): Promise<number> {
  let total = 0;
  for (;;) {
    const pruned = await withTransaction(engine.pool, async (tx) => {
      await tx.query(`SELECT 1 FROM lethe_ledger_chain_head WHERE id = 1 FOR UPDATE`);
      const seg = await prunableSegment(tx, cutoff, held, SEGMENT_PAGE);
      if (seg.seq === null) return 0;
      const { rowCount } = await tx.query(
        `DELETE FROM lethe_ledger WHERE id > (SELECT start_ledger_id FROM lethe_ledger_chain_head WHERE id = 1) AND id <= $1::bigint`,
        [seg.lastLedgerId],
      );
      await tx.query(`DELETE FROM lethe_ledger_chain WHERE seq <= $1::bigint`, [seg.seq]);
      await tx.query(
        `UPDATE lethe_ledger_chain_head SET anchor_seq = $1::bigint, anchor_hash = $2, start_ledger_id = $3::bigint, pruned_at = now(), updated_at = now() WHERE id = 1`,
        [seg.seq, seg.linkHash, seg.lastLedgerId],
      );
      return rowCount ?? 0;
    });
    total += pruned;
    if (pruned === 0) return total;
  }
}
