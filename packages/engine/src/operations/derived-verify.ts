import type { Queryable } from '../db/pool.js';
import { quoteIdent } from '../db/identifiers.js';
import type { Engine } from '../engine.js';
import type { StoragePort } from '../ports.js';
import { createStorage, parseStorageUrl } from '../storage/index.js';
import { statAll } from './verify.js';

/**
 * `lethe verify --ledger` for derived data (docs/rights.md#derived-data): every derived object
 * recorded erased or absent (lethe_ledger_derived) is looked up on its storage, and every child-row
 * set recorded deleted is counted again in its table. An object still there that was modified
 * before its evidence was written is the erased object back (a finding); one modified later is a
 * new object at the key (a dedup blob uploaded again for a new job), reported as `newer_object`
 * and not failed. HMAC ledgers hold no key to look up: those objects are `unverifiable`.
 */
export interface DerivedFinding {
  readonly job_id: string;
  readonly kind: 'object' | 'rows';
  readonly declaration: string;
  readonly storage: string | null;
  readonly key: string | null;
  /** Objects: `present` (the erased object) or `newer_object`; rows: `present` with `rows`. */
  readonly finding: 'present' | 'newer_object';
  readonly rows?: number;
}

export interface DerivedVerifyReport {
  readonly objects_checked: number;
  readonly row_sets_checked: number;
  readonly present: number;
  readonly newer_objects: number;
  readonly unverifiable: number;
  readonly findings: readonly DerivedFinding[];
  /** Present findings (not newer objects): they fail the command. */
  readonly unresolved: number;
}

type EvidenceRow = {
  id: string;
  job_id: string;
  kind: 'object' | 'rows';
  declaration: string;
  storage: string | null;
  object_key: string | null;
  recorded_at: Date;
};

export async function verifyDerived(
  engine: Engine,
  o: { readonly sample?: number; readonly all?: boolean; readonly concurrency?: number; readonly maxFindings?: number } = {},
): Promise<DerivedVerifyReport> {
  const db = engine.pool;
  const rows = await evidenceRows(db, o.all === true ? null : (o.sample ?? 1000));
  const hashed = engine.options.ledgerKeyHmacSecret !== null;
  const { stores, owned } = await storesByName(engine);
  const findings: DerivedFinding[] = [];
  let unverifiable = 0;
  let present = 0;
  let newer = 0;
  try {
    const objects = rows.filter((r) => r.kind === 'object');
    const byStore = new Map<string, EvidenceRow[]>();
    for (const r of objects) {
      const s = r.storage === null ? undefined : stores.get(r.storage);
      if (hashed || s === undefined || r.object_key === null) {
        unverifiable++;
        continue;
      }
      const list = byStore.get(r.storage!);
      if (list) list.push(r);
      else byStore.set(r.storage!, [r]);
    }
    for (const [name, list] of byStore) {
      const stats = await statAll(stores.get(name)!, [...new Set(list.map((r) => r.object_key!))], o.concurrency ?? 32);
      for (const r of list) {
        const s = stats.get(r.object_key!)!;
        if ('error' in s) unverifiable++;
        else if (s.info) {
          const isNewer = s.info.modifiedMs >= r.recorded_at.getTime();
          if (isNewer) newer++;
          else present++;
          findings.push({
            job_id: r.job_id,
            kind: 'object',
            declaration: r.declaration,
            storage: name,
            key: r.object_key,
            finding: isNewer ? 'newer_object' : 'present',
          });
        }
      }
    }
    const tables = new Map(engine.options.derived.tables.filter((t) => t.refersTo === 'id').map((t) => [t.table, t]));
    const sets = rows.filter((r) => r.kind === 'rows');
    for (const r of sets) {
      const t = tables.get(r.declaration);
      if (!t) {
        unverifiable++;
        continue;
      }
      const { rows: c } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${quoteIdent(t.table)} WHERE ${quoteIdent(t.column)}::text = $1`, [
        r.job_id,
      ]);
      if (c[0]!.n > 0) {
        present++;
        findings.push({ job_id: r.job_id, kind: 'rows', declaration: r.declaration, storage: null, key: null, finding: 'present', rows: c[0]!.n });
      }
    }
    return {
      objects_checked: objects.length,
      row_sets_checked: sets.length,
      present,
      newer_objects: newer,
      unverifiable,
      findings: findings.slice(0, o.maxFindings ?? 1000),
      unresolved: present,
    };
  } finally {
    await Promise.all(owned.map((s) => s.close()));
  }
}

async function evidenceRows(db: Queryable, sample: number | null): Promise<EvidenceRow[]> {
  const cols = `id::text, job_id, kind, declaration, storage, object_key, recorded_at`;
  const where = `outcome IN ('erased', 'absent', 'deleted')`;
  const { rows } =
    sample === null
      ? await db.query<EvidenceRow>(`SELECT ${cols} FROM lethe_ledger_derived WHERE ${where} ORDER BY id`)
      : await db.query<EvidenceRow>(`SELECT ${cols} FROM lethe_ledger_derived WHERE ${where} ORDER BY random() LIMIT $1`, [sample]);
  return rows;
}

/** The run's storage and every declared derived storage, by the name the evidence records (`describe`). */
async function storesByName(engine: Engine): Promise<{ stores: Map<string, StoragePort>; owned: StoragePort[] }> {
  const stores = new Map<string, StoragePort>();
  const owned: StoragePort[] = [];
  if (engine.options.storage !== null) {
    const main = engine.storage();
    stores.set(main.describe, main);
  }
  for (const [i, o] of engine.options.derived.objects.entries()) {
    if (o.storage === null) continue;
    const s = await createStorage(parseStorageUrl(o.storage, `derived.objects[${i}].storage`));
    if (stores.has(s.describe)) await s.close();
    else {
      stores.set(s.describe, s);
      owned.push(s);
    }
  }
  return { stores, owned };
}
