import type pg from 'pg';
import { expiredSelectSql, type PurposeSelection } from './source.js';
import type { JobsTable } from '../db/jobs-table.js';
import { checkOut } from '../db/pool.js';
import type { ExpiredRow } from '../ports.js';

/**
 * A batch claimed with `FOR UPDATE SKIP LOCKED` inside its own transaction (scale-out: several
 * processes share one backlog). Its outcomes are written on the claim's connection and committed
 * with it; if the process dies, the transaction dies and the rows go back to the pool by themselves.
 */
export interface BatchClaim {
  /** Rows looked at and kept (failed, refused, shared, held): never claimed again in this group. */
  keep(rows: readonly ExpiredRow[]): Promise<void>;
  commit(): Promise<void>;
  abandon(error?: unknown): Promise<void>;
  /**
   * The batch's transaction for its re-check, storage call and outcomes (docs/safety.md#races):
   * a group's claim is its own transaction; a solo batch opens one now, once every wait is behind it.
   */
  transaction(): Promise<BatchTransaction>;
}

/** The transaction one batch is re-checked, erased and recorded in. */
export interface BatchTransaction {
  readonly client: pg.PoolClient;
  keep(rows: readonly ExpiredRow[]): Promise<void>;
  commit(): Promise<void>;
  abandon(error?: unknown): Promise<void>;
}

export interface ClaimedBatch {
  readonly rows: readonly ExpiredRow[];
  readonly claim: BatchClaim;
}

export interface ClaimOptions {
  readonly table: JobsTable;
  readonly purposes: readonly PurposeSelection[];
  readonly cutoff: string;
  readonly batchSize: number;
  readonly groupId: string;
  /** Static shard: only rows whose id hashes to `index` of `count`. */
  readonly shard: { readonly index: number; readonly count: number } | null;
  readonly signal?: AbortSignal;
  /**
   * Asked when nothing is left to claim: true while other workers of the group still run (their
   * rows may come back if they die), so this worker waits and claims again instead of leaving.
   */
  readonly othersRunning: () => Promise<boolean>;
  /** Called when a claim succeeds after waiting: the worker is busy again. */
  readonly busy: () => Promise<void>;
  readonly waitMs: number;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** The claim query: the expired-row query, minus this group's kept rows, optionally one shard, SKIP LOCKED. */
export function claimSql(t: JobsTable, sharded: boolean): string {
  const skips = `AND NOT EXISTS (SELECT 1 FROM lethe_group_skips s WHERE s.group_id = $5 AND s.job_id = j.${t.id}::text)`;
  const shard = sharded ? `AND mod(hashtext(j.${t.id}::text) & 2147483647, $7::int) = $8::int` : '';
  return expiredSelectSql(t, `${skips} ${shard}`, `ORDER BY j.${t.createdAt} LIMIT $6 FOR UPDATE OF j SKIP LOCKED`);
}

type Raw = [string, string, number, number];

/** Claims batches until no purpose has an unclaimed expired row left and no other worker runs. */
export async function* claimExpiredRows(pool: pg.Pool, o: ClaimOptions): AsyncGenerator<ClaimedBatch> {
  const sql = claimSql(o.table, o.shard !== null);
  let waiting = false;
  while (!o.signal?.aborted) {
    let claimed = false;
    for (const p of o.purposes) {
      for (;;) {
        if (o.signal?.aborted) return;
        const batch = await claimOne(pool, sql, o, p);
        if (!batch) break;
        if (waiting) {
          waiting = false;
          await o.busy();
        }
        claimed = true;
        yield batch;
      }
    }
    if (claimed) continue;
    if (!(await o.othersRunning())) return;
    waiting = true;
    await o.sleep(o.waitMs, o.signal);
  }
}

async function claimOne(pool: pg.Pool, sql: string, o: ClaimOptions, p: PurposeSelection): Promise<ClaimedBatch | null> {
  const tx = await openTransaction(pool);
  let raw: Raw[];
  try {
    const params: unknown[] = [p.purpose, p.interval, o.cutoff, p.calendar ? '3 days' : '0', o.groupId, o.batchSize];
    if (o.shard) params.push(o.shard.count, o.shard.index);
    raw = (await tx.client.query<Raw>({ text: sql, values: params, rowMode: 'array' })).rows as unknown as Raw[];
  } catch (error) {
    await tx.close(error);
    throw error;
  }
  if (raw.length === 0) {
    await tx.close();
    return null;
  }
  const rows = raw.map((r): ExpiredRow => ({ id: r[0], fileKey: r[1], purpose: p.purpose, createdAtMs: r[2], expiresAtMs: r[3] }));
  const client = tx.client;
  const claim: BatchClaim & BatchTransaction = {
    client,
    keep: async (kept) => {
      if (kept.length === 0) return;
      await client.query(`INSERT INTO lethe_group_skips (group_id, job_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, [
        o.groupId,
        kept.map((r) => r.id),
      ]);
    },
    commit: () => tx.close(),
    abandon: (error) => tx.close(error ?? new Error('abandoned')),
    transaction: async () => claim,
  };
  return { rows, claim };
}

/**
 * A solo run's batches, each with a no-op claim (nothing to keep or release: a solo run holds the
 * run lock alone), so the pipeline has one path for solo runs and group workers. A batch's
 * transaction is opened when it is about to be re-checked and deleted (docs/safety.md#races).
 */
export async function* soloBatches(pool: pg.Pool, source: AsyncIterable<readonly ExpiredRow[]>): AsyncGenerator<ClaimedBatch> {
  const claim: BatchClaim = { keep: async () => {}, commit: async () => {}, abandon: async () => {}, transaction: () => beginBatch(pool) };
  for await (const rows of source) yield { rows, claim };
}

export async function beginBatch(pool: pg.Pool): Promise<BatchTransaction> {
  const tx = await openTransaction(pool);
  return { client: tx.client, keep: async () => {}, commit: () => tx.close(), abandon: (error) => tx.close(error ?? new Error('abandoned')) };
}

interface OpenTransaction {
  readonly client: pg.PoolClient;
  /** COMMIT without an error, ROLLBACK with one; releases the client once. */
  close(error?: unknown): Promise<void>;
}

async function openTransaction(pool: pg.Pool): Promise<OpenTransaction> {
  // A connection that dies while the transaction holds it (server restart, pg_terminate_backend)
  // must not become an uncaught exception: the error surfaces from the next statement instead.
  const c = await checkOut(pool);
  const { client } = c;
  let open = true;
  const close = async (error?: unknown): Promise<void> => {
    if (!open) return;
    open = false;
    try {
      if (c.broken) throw c.broken;
      await client.query(error === undefined ? 'COMMIT' : 'ROLLBACK');
    } catch (e) {
      c.fail(e);
      if (error === undefined) throw e;
    } finally {
      c.release();
    }
  };
  try {
    await client.query('BEGIN');
  } catch (error) {
    await close(error);
    throw error;
  }
  return { client, close };
}
