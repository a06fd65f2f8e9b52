import type { Engine } from '../engine.js';
import { inspectJobsTable } from '../db/jobs-table.js';
import { retainedUnderOf } from '../policy/retention.js';
import { loadCurrentPolicies } from '../db/tables/policy-versions.js';
import type { ExpiredRow } from '../ports.js';
import { checkKey } from '../storage/keys.js';
import { isReservedKey } from '../storage/trash-keys.js';
import { checkPrincipalColumn, readNamedRows } from './named-rows.js';
import { recheckRequestBatch } from './request-recheck.js';
import { validateRequestInput, type ErasureRequestInput, type ErasureTarget } from './request.js';

/**
 * `lethe erase --dry-run` (docs/rights.md#dry-run): exactly what a request would erase and refuse
 * now, by the same judgement as its batches (request-recheck.ts, without the row locks), and the
 * same key checks. Nothing is stored or changed. Lists are capped at `cap` rows each; counts are not.
 */
export interface PreviewRow {
  readonly job_id: string;
  readonly file_key: string;
  readonly purpose: string;
}

export interface RequestPreview {
  readonly reference: string;
  readonly policy_version: number;
  /** Rows that would go with their file. */
  readonly erase: PreviewList;
  /** Rows that would go while their file stays (other rows share it). */
  readonly unlink: PreviewList;
  /** Rows refused under a statute (their purpose's retainedUnder). */
  readonly retained: PreviewList & { readonly statutes: Readonly<Record<string, string>> };
  /** Rows kept because their file is under a legal hold. */
  readonly held: PreviewList;
  /** Rows refused: a key a run never touches (outside the root, under .lethe/), or a purpose with no policy. */
  readonly refused: PreviewList;
  readonly files_erased: number;
}

export interface PreviewList {
  count: number;
  rows: PreviewRow[];
}

export async function previewErasureRequest(
  engine: Engine,
  input: Pick<ErasureRequestInput, 'reference' | 'target'> & Partial<ErasureRequestInput>,
  cap = 1000,
): Promise<RequestPreview> {
  const r = validateRequestInput({ requestedBy: 'preview', reason: 'request', submittedBy: 'preview', ...input }, engine.options.erasure);
  const target: ErasureTarget = r.target;
  const table = await inspectJobsTable(engine.pool, engine.options.jobs);
  const principal = engine.options.erasure.principalColumn;
  if (target.kind === 'principal') await checkPrincipalColumn(engine.pool, table, principal!);
  const current = await loadCurrentPolicies(engine.pool);
  const retainedUnder = retainedUnderOf(current.policies);
  const policies = Object.keys(current.policies).map((purpose) => ({ purpose, interval: '0', calendar: false }));
  const list = (): PreviewList => ({ count: 0, rows: [] });
  const out = { erase: list(), unlink: list(), retained: list(), held: list(), refused: list() };
  const add = (l: PreviewList, row: ExpiredRow): void => {
    l.count++;
    if (l.rows.length < cap) l.rows.push({ job_id: row.id, file_key: row.fileKey, purpose: row.purpose });
  };
  const files = new Set<string>();
  const seen = new Set<string>();
  for await (const batch of readNamedRows(engine.pool, { table, target, principal, policies, batchSize: engine.options.batchSize })) {
    const candidates = batch.filter((row) => {
      if (checkKey(row.fileKey) === null && !isReservedKey(row.fileKey)) return true;
      add(out.refused, row);
      return false;
    });
    const checked = await recheckRequestBatch(
      engine.pool,
      { table, requestId: '0', target, principal, policies, retainedUnder, lock: false, open: true },
      candidates,
    );
    for (const row of [...checked.deletable, ...checked.extra]) {
      if (seen.has(row.id)) continue;
      seen.add(row.id);
      add(out.erase, row);
      files.add(row.fileKey);
    }
    for (const row of checked.detached) add(out.unlink, row);
    for (const k of checked.requestKept)
      if (k.reason !== 'changed') add(k.reason === 'retained' ? out.retained : k.reason === 'held' ? out.held : out.refused, k.row);
  }
  return {
    reference: r.reference,
    policy_version: current.version,
    ...out,
    retained: { ...out.retained, statutes: Object.fromEntries(retainedUnder) },
    files_erased: files.size,
  };
}
