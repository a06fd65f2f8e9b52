import { inspectJobsTable, loadCurrentPolicies, retentionToInterval, type JobsTable, type JobsTableNames, type Queryable } from '@lethe/engine';

export interface BacklogCount {
  readonly purpose: string;
  /** Rows counted, at most the cap. */
  readonly count: number;
}

/**
 * Expired rows still in the jobs table, per purpose with a policy, counted over the index range
 * `purpose_code = $p AND created_at < now() - retention` (the range the run's cursor reads), each
 * count stopped at `cap` so a scrape stays cheap whatever the backlog; one round trip.
 */
export async function countBacklog(db: Queryable, table: JobsTable, cap: number): Promise<BacklogCount[]> {
  const policy = await loadCurrentPolicies(db);
  const purposes = Object.keys(policy.policies).sort();
  const intervals = purposes.map((p) => retentionToInterval(policy.policies[p]!));
  const { rows } = await db.query<{ purpose: string; n: number }>(
    `SELECT p.purpose,
            (SELECT count(*)::int FROM (SELECT 1 FROM ${table.table} j
               WHERE j.${table.purpose} = p.purpose AND j.${table.createdAt} < ${table.toColumnTime('now() - p.iv::interval')} LIMIT $3) s) AS n
       FROM unnest($1::text[], $2::text[]) AS p(purpose, iv)`,
    [purposes, intervals, cap],
  );
  return rows.map((r) => ({ purpose: r.purpose, count: r.n }));
}

/** Looks the jobs table up once and keeps it (its shape does not change under a running service). */
export function jobsTableResolver(db: Queryable, names: JobsTableNames): () => Promise<JobsTable> {
  let table: Promise<JobsTable> | null = null;
  return () => {
    table ??= inspectJobsTable(db, names).catch((error: unknown) => {
      table = null;
      throw error;
    });
    return table;
  };
}
