import { inspectJobsTable, loadCurrentPolicies, retentionToInterval, type JobsTable, type JobsTableNames, type Queryable } from '@lethe/engine';

export interface ExpiredCount {
  readonly purpose: string;
  /** Rows counted, at most `cap`. */
  readonly count: number;
  /** The real figure is at least `cap`. */
  readonly capped: boolean;
  readonly sampleKeys: readonly string[];
}

export interface ExpiredCountQuery {
  /** Rows whose `created_at` is older than now − retention − `extraMs` (0: the backlog). */
  readonly extraMs: number;
  /** Counting stops here per purpose, so a huge backlog cannot make a scrape slow. */
  readonly cap: number;
  /** Sample file keys per purpose (oldest first); 0 for none. */
  readonly samples: number;
  /** The instant to judge at (ISO); default the database's `now()`. */
  readonly asOf?: string;
}

/**
 * Expired rows still in the jobs table, per purpose with a policy, counted over the index range
 * `purpose_code = $p AND created_at < now() - retention` (the same range the run's cursor reads,
 * DESIGN "one run"), capped, in one round trip. `now()` is the database clock, as for runs.
 */
export async function countExpiredRows(db: Queryable, table: JobsTable, q: ExpiredCountQuery): Promise<ExpiredCount[]> {
  const policy = await loadCurrentPolicies(db);
  const purposes = Object.keys(policy.policies).sort();
  const intervals = purposes.map((p) => retentionToInterval(policy.policies[p]!));
  const before = table.toColumnTime(`coalesce($6::timestamptz, now()) - p.iv::interval - ($4::bigint * interval '1 millisecond')`);
  const { rows } = await db.query<{ purpose: string; n: number; samples: string[] | null }>(
    `SELECT p.purpose,
            (SELECT count(*)::int FROM (SELECT 1 FROM ${table.table} j WHERE j.${table.purpose} = p.purpose AND j.${table.createdAt} < ${before} LIMIT $3) s) AS n,
            CASE WHEN $5::int > 0 THEN ARRAY(SELECT j.${table.fileKey}::text FROM ${table.table} j
               WHERE j.${table.purpose} = p.purpose AND j.${table.createdAt} < ${before} ORDER BY j.${table.createdAt} LIMIT $5) END AS samples
       FROM unnest($1::text[], $2::text[]) AS p(purpose, iv)`,
    [purposes, intervals, q.cap, Math.round(q.extraMs), q.samples, q.asOf ?? null],
  );
  return rows.map((r) => ({ purpose: r.purpose, count: r.n, capped: r.n >= q.cap, sampleKeys: r.samples ?? [] }));
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
