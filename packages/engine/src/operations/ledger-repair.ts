import { writeAudit, type AuditAction } from '../db/tables/audit.js';
import type { Engine } from '../engine.js';
import type { KeyOutcome, StoragePort } from '../ports.js';
import { heldKeysNow, withHoldsLocked } from '../run/keep/hold-guard.js';
import type { LedgerFinding } from './ledger-verify.js';
import { statAll } from './verify.js';
import { ledgerInsertSql } from '../db/tables/ledger-chain.js';

/**
 * `lethe verify --ledger --repair`: files the ledger records as gone but found in storage are
 * erased again through the storage port's `deleteMany` (the same adapter, key checks and outcomes
 * as a run), recorded as ledger rows `reerased` (copied from the finding's ledger row) and one
 * audit row. The caller holds the run lock.
 *
 * Only the object that was erased is erased again:
 * - held keys are never touched (holds read again, under the holds lock, just before deleting);
 * - a `newer_object` finding (modified after the erasure began) is never touched: `skipped_newer`;
 * - each key is stat'ed again just before its delete: a file that changed since the check (another
 *   modification time or size: someone wrote a new file there meanwhile) is `skipped_changed`, and
 *   one already gone counts as repaired (`absent`) without a delete.
 */
export const LEDGER_REERASED: AuditAction = 'cleanup_ledger_reerased';

export interface RepairCounts {
  /** Findings now gone: erased again, or found already gone at the repair. */
  readonly repaired: number;
  readonly repair_failed: number;
}

const CHUNK = 1000;

export async function repairFindings(
  engine: Engine,
  verifyId: string,
  findings: readonly LedgerFinding[],
  by: string,
): Promise<{ findings: LedgerFinding[]; counts: RepairCounts }> {
  const storage = engine.storage();
  const toRepair = findings.filter((f) => !f.held && f.kind === 'present');
  const results = new Map<string, KeyResult>();
  for (let i = 0; i < toRepair.length; i += CHUNK) {
    for (const [key, r] of await repairChunk(engine, storage, toRepair.slice(i, i + CHUNK))) results.set(key, r);
  }
  const out = findings.map((f): LedgerFinding => {
    if (f.held) return { ...f, repair: 'skipped_held' };
    if (f.kind === 'newer_object') return { ...f, repair: 'skipped_newer' };
    const r = results.get(f.file_key);
    if (r === undefined) return { ...f, repair: 'failed', repair_error: 'no outcome' };
    if ('skipped' in r) return { ...f, repair: r.skipped, ...(r.skipped === 'skipped_held' ? { held: true } : {}), ...(r.why ? { repair_error: r.why } : {}) };
    const o = r.outcome;
    if (o.outcome === 'erased' || o.outcome === 'absent') return { ...f, repair: o.outcome };
    return { ...f, repair: 'failed', repair_error: `${o.code ?? o.outcome}: ${o.message ?? ''}` };
  });
  const done = out.filter((f) => f.repair === 'erased' || f.repair === 'absent');
  const failed = out.filter((f) => f.repair === 'failed');
  if (done.length > 0) {
    await engine.pool.query(
      ledgerInsertSql({
        columns: 'run_id, job_id, file_key, purpose_code, created_at, expires_at, outcome, error_code, error, policy_version',
        select: `SELECT $1::uuid, l.job_id, l.file_key, l.purpose_code, l.created_at, l.expires_at, 'reerased',
              CASE WHEN d.absent THEN 'LETHE_ALREADY_GONE' END, 'erased again: the ledger recorded it gone, storage still had it'::text, l.policy_version
         FROM unnest($2::bigint[], $3::boolean[]) AS d(id, absent) JOIN lethe_ledger l ON l.id = d.id`,
      }),
      [verifyId, done.map((f) => f.ledger_id), done.map((f) => f.repair === 'absent')],
    );
  }
  if (done.length > 0 || failed.length > 0) {
    await writeAudit(engine.pool, LEDGER_REERASED, {
      verify_id: verifyId,
      by,
      storage: storage.describe,
      repaired: done.length,
      repair_failed: failed.length,
      ledger_keys: done.slice(0, 100).map((f) => f.ledger_key),
      failures: failed.slice(0, 20).map((f) => ({ ledger_key: f.ledger_key, error: f.repair_error })),
    });
  }
  return { findings: out, counts: { repaired: done.length, repair_failed: failed.length } };
}

type KeyResult = { readonly outcome: KeyOutcome } | { readonly skipped: 'skipped_held' | 'skipped_changed'; readonly why?: string };

/**
 * One chunk, under the holds lock: holds read again, each key stat'ed again, and only keys whose
 * object is still the one the finding saw (same modification time, to the millisecond, and size)
 * are deleted. A key listed by several findings (several ledger rows) must match all of them.
 */
async function repairChunk(engine: Engine, storage: StoragePort, chunk: readonly LedgerFinding[]): Promise<Map<string, KeyResult>> {
  const results = new Map<string, KeyResult>();
  const keys = [...new Set(chunk.map((f) => f.file_key))];
  await withHoldsLocked(engine.pool, async (db) => {
    const held = await heldKeysNow(db, keys);
    const stats = await statAll(
      storage,
      keys.filter((k) => !held.has(k)),
      32,
    );
    const deletable: string[] = [];
    for (const key of keys) {
      const s = stats.get(key);
      if (held.has(key)) results.set(key, { skipped: 'skipped_held' });
      else if (s === undefined || 'error' in s)
        results.set(key, {
          outcome: {
            key,
            outcome: 'failed',
            code: s?.error.code ?? 'UNKNOWN',
            message: `could not stat it again before the delete: ${s?.error.message ?? 'no answer'}`,
          },
        });
      else if (s.info === null) results.set(key, { outcome: { key, outcome: 'absent' } });
      else if (chunk.some((f) => f.file_key === key && !sameObject(f, s.info!))) {
        results.set(key, {
          skipped: 'skipped_changed',
          why: `changed since it was checked (now modified ${new Date(s.info.modifiedMs).toISOString()}, ${s.info.size} bytes): a newer file, not the one erased`,
        });
      } else deletable.push(key);
    }
    if (deletable.length > 0) for (const o of await storage.deleteMany(deletable)) results.set(o.key, { outcome: o });
  });
  return results;
}

function sameObject(f: LedgerFinding, now: { readonly size: number; readonly modifiedMs: number }): boolean {
  return now.size === f.size && new Date(now.modifiedMs).getTime() === Date.parse(f.modified_at);
}
