import { loadCurrentPolicies, retentionToInterval, type JobsTable, type Queryable } from '@lethe/engine';

/** Rows returned per section; a key normally has one or two. */
const MAX_ROWS = 50;

export interface LedgerLookup {
  readonly file_key: string;
  /** `present`: a jobs row still refers to the key; `erased`: the ledger records its deletion; `unknown`: neither. */
  readonly status: 'present' | 'erased' | 'unknown';
  readonly erasures: readonly {
    run_id: string; job_id: string; outcome: string; erased_at: string; purpose: string | null;
    policy_version: number | null; created_at: string | null; expires_at: string | null;
  }[];
  /** Failed or refused attempts on the key (FM-002), newest first. */
  readonly attempts: readonly { run_id: string; job_id: string; outcome: string; at: string; error_code: string | null; error: string | null }[];
  readonly present: readonly { job_id: string; purpose: string | null; created_at: string | null; expires_at: string | null; expired: boolean | null }[];
}

/**
 * Runbook FM-003 ("my document was deleted too early"): when a key was erased, by which run,
 * under which purpose and policy version; or, if its row is still there, when it expires.
 * Written here because the engine's lookup operation (issue 6) did not exist yet.
 */
export async function lookupFileKey(db: Queryable, table: JobsTable, fileKey: string): Promise<LedgerLookup> {
  const policy = await loadCurrentPolicies(db);
  const purposes = Object.keys(policy.policies);
  const intervals = purposes.map((p) => retentionToInterval(policy.policies[p]!));
  const created = table.naiveTimestamps ? `(j.${table.createdAt} AT TIME ZONE 'UTC')` : `j.${table.createdAt}`;
  const [ledger, jobs] = await Promise.all([
    db.query<{ run_id: string; job_id: string; outcome: string; erased_at: Date; purpose_code: string | null; policy_version: number | null; created_at: Date | null; expires_at: Date | null; error_code: string | null; error: string | null }>(
      `SELECT run_id::text, job_id, outcome, erased_at, purpose_code, policy_version, created_at, expires_at, error_code, error
         FROM lethe_ledger WHERE file_key = $1 ORDER BY erased_at DESC, id DESC LIMIT ${MAX_ROWS * 2}`,
      [fileKey],
    ),
    db.query<{ job_id: string; purpose: string | null; created_at: Date | null; expires_at: Date | null; expired: boolean | null }>(
      `SELECT j.${table.id}::text AS job_id, j.${table.purpose}::text AS purpose, ${created} AS created_at,
              ${created} + p.iv::interval AS expires_at, ${created} + p.iv::interval < now() AS expired
         FROM ${table.table} j LEFT JOIN unnest($2::text[], $3::text[]) AS p(purpose, iv) ON p.purpose = j.${table.purpose}::text
        WHERE j.${table.fileKey} = $1 ORDER BY j.${table.createdAt} LIMIT ${MAX_ROWS}`,
      [fileKey, purposes, intervals],
    ),
  ]);
  const iso = (d: Date | null): string | null => d?.toISOString() ?? null;
  const erasures = ledger.rows
    .filter((r) => r.outcome === 'erased' || r.outcome === 'absent')
    .slice(0, MAX_ROWS)
    .map((r) => ({
      run_id: r.run_id, job_id: r.job_id, outcome: r.outcome, erased_at: r.erased_at.toISOString(), purpose: r.purpose_code,
      policy_version: r.policy_version, created_at: iso(r.created_at), expires_at: iso(r.expires_at),
    }));
  const attempts = ledger.rows
    .filter((r) => r.outcome !== 'erased' && r.outcome !== 'absent')
    .slice(0, MAX_ROWS)
    .map((r) => ({ run_id: r.run_id, job_id: r.job_id, outcome: r.outcome, at: r.erased_at.toISOString(), error_code: r.error_code, error: r.error }));
  const present = jobs.rows.map((r) => ({ job_id: r.job_id, purpose: r.purpose, created_at: iso(r.created_at), expires_at: iso(r.expires_at), expired: r.expired }));
  const status = present.length > 0 ? 'present' : erasures.length > 0 ? 'erased' : 'unknown';
  return { file_key: fileKey, status, erasures, attempts, present };
}
