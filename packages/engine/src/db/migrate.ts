import type pg from 'pg';
import { SchemaError } from '../errors.js';
import { DEFAULT_JOBS_TABLE, type JobsTableNames } from './jobs-table.js';
import { hasKeyGuard, KEY_GUARD_TRIGGER, keyGuardFunctionSql, keyGuardTriggerSql } from '../run/keep/key-guard.js';
import { policiesToStoredJson, type PolicySet } from '../policy/retention.js';
import { quoteIdent } from './identifiers.js';
import { checkOut } from './pool.js';
import { hasLeadingIndex, listIndexes } from './indexes.js';
import { LATEST_MIGRATION, MIGRATIONS } from './migrations.js';

export interface MigrateOptions {
  readonly jobs?: JobsTableNames;
  /** Policies to seed as version 1 when the database has none. */
  readonly policies: PolicySet;
  /** Create the indexes Lethe needs on `jobs` (CONCURRENTLY) when missing. Default true. */
  readonly createJobsIndexes?: boolean;
  /**
   * Install the key guard trigger on `jobs` (docs/safety.md#shared-keys): the platform's writes to
   * a key wait for a batch erasing it and then fail with 40001. Default true.
   */
  readonly installKeyGuard?: boolean;
}

export interface MigrateReport {
  readonly applied: readonly number[];
  readonly schemaVersion: number;
  readonly policiesSeeded: boolean;
  readonly indexesCreated: readonly string[];
  readonly warnings: readonly string[];
  /** `installed` now, already `present`, or `skipped` (option off, or no jobs table yet). */
  readonly keyGuard: 'installed' | 'present' | 'skipped';
}

const MIGRATE_LOCK_KEY = 0x4c455448_00000001n; // "LETH" + 1

/** Idempotent: safe to run at every deploy and from several processes at once. */
export async function migrate(pool: pg.Pool, options: MigrateOptions): Promise<MigrateReport> {
  const c = await checkOut(pool);
  try {
    await c.client.query('SELECT pg_advisory_lock($1)', [MIGRATE_LOCK_KEY.toString()]);
    try {
      return await migrateLocked(c.client, options);
    } finally {
      // A connection whose unlock failed is destroyed on release, and its session lock with it.
      await c.client.query('SELECT pg_advisory_unlock($1)', [MIGRATE_LOCK_KEY.toString()]).catch((e: unknown) => c.fail(e));
    }
  } finally {
    c.release();
  }
}

async function migrateLocked(client: pg.PoolClient, options: MigrateOptions): Promise<MigrateReport> {
  await client.query(`CREATE TABLE IF NOT EXISTS lethe_schema_migrations (
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  const done = new Set((await client.query<{ version: number }>('SELECT version FROM lethe_schema_migrations')).rows.map((r) => r.version));
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue;
    await client.query('BEGIN');
    try {
      await client.query(m.sql);
      await client.query('INSERT INTO lethe_schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw new SchemaError(`migration ${m.version} (${m.name}) failed: ${(error as Error).message}`);
    }
    applied.push(m.version);
  }
  await checkAuditLogs(client);
  const seeded = await client.query(
    `INSERT INTO lethe_policy_versions (version, created_by, reason, policies)
     SELECT 1, 'lethe migrate', 'initial policies', $1::jsonb
      WHERE NOT EXISTS (SELECT 1 FROM lethe_policy_versions)`,
    [JSON.stringify(policiesToStoredJson(options.policies))],
  );
  const warnings: string[] = [];
  const indexesCreated: string[] = [];
  await ensureIndex(client, 'audit_logs', ['action', 'timestamp'], 'lethe_audit_logs_action_ts_idx', indexesCreated);
  const jobs = options.jobs ?? DEFAULT_JOBS_TABLE;
  const exists = (await client.query('SELECT to_regclass($1) IS NOT NULL AS ok', [quoteIdent(jobs.table)])).rows[0]?.ok === true;
  let keyGuard: MigrateReport['keyGuard'] = 'skipped';
  if (options.installKeyGuard !== false && exists) keyGuard = await ensureKeyGuard(client, jobs);
  else if (options.installKeyGuard === false)
    warnings.push(
      'key guard not installed (--no-key-guard): a row the platform writes at a key while a batch erases it is not protected (docs/safety.md#shared-keys)',
    );
  if (options.createJobsIndexes !== false) {
    if (!exists) {
      warnings.push(`jobs table ${jobs.table} not found: its indexes were not created (run migrate again once it exists)`);
    } else {
      await ensureIndex(client, jobs.table, [jobs.purpose, jobs.createdAt], 'lethe_jobs_purpose_created_idx', indexesCreated);
      await ensureIndex(client, jobs.table, [jobs.fileKey], 'lethe_jobs_file_key_idx', indexesCreated);
    }
  }
  return { applied, schemaVersion: LATEST_MIGRATION, policiesSeeded: (seeded.rowCount ?? 0) > 0, indexesCreated, warnings, keyGuard };
}

/**
 * The function is replaced on every migrate (no lock on jobs); the trigger is created once, in a
 * transaction (CREATE TRIGGER takes a brief SHARE ROW EXCLUSIVE lock on the table).
 */
async function ensureKeyGuard(client: pg.PoolClient, jobs: JobsTableNames): Promise<'installed' | 'present'> {
  await client.query(keyGuardFunctionSql(jobs));
  if (await hasKeyGuard(client, jobs)) return 'present';
  await client.query('BEGIN');
  try {
    await client.query(`DROP TRIGGER IF EXISTS ${KEY_GUARD_TRIGGER} ON ${quoteIdent(jobs.table)}`);
    await client.query(keyGuardTriggerSql(jobs));
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw new SchemaError(
      `key guard trigger on ${jobs.table} could not be created: ${(error as Error).message} (migrate with --no-key-guard to skip it; docs/safety.md#shared-keys)`,
    );
  }
  return 'installed';
}

/**
 * Builds an index CONCURRENTLY (no write lock on the platform's table) when no valid index already
 * leads with these columns. A failed concurrent build leaves an INVALID index: drop ours and retry.
 */
async function ensureIndex(client: pg.PoolClient, table: string, columns: string[], name: string, created: string[]): Promise<void> {
  const quoted = quoteIdent(table);
  const indexes = await listIndexes(client, quoted);
  if (hasLeadingIndex(indexes, columns)) return;
  if (indexes.some((ix) => ix.name === name && !ix.valid)) {
    await client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${schemaOf(table)}${quoteIdent(name)}`);
  }
  await client.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ${quoteIdent(name)} ON ${quoted} (${columns.map(quoteIdent).join(', ')})`);
  created.push(`${name} ON ${table} (${columns.join(', ')})`);
}

function schemaOf(table: string): string {
  const dot = table.indexOf('.');
  return dot < 0 ? '' : `${quoteIdent(table.slice(0, dot))}.`;
}

/** `audit_logs` may be the platform's: it must have the runbook's columns, and accept our inserts. */
async function checkAuditLogs(client: pg.PoolClient): Promise<void> {
  const { rows } = await client.query<{ name: string; type: string; notnull: boolean; hasdefault: boolean }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull, a.atthasdef AS hasdefault
       FROM pg_attribute a WHERE a.attrelid = to_regclass('audit_logs') AND a.attnum > 0 AND NOT a.attisdropped`,
  );
  const cols = new Map(rows.map((r) => [r.name, r]));
  const need: Record<string, (t: string) => boolean> = {
    timestamp: (t) => t.startsWith('timestamp'),
    action: (t) => t === 'text' || t.startsWith('character varying'),
    details: (t) => t === 'jsonb' || t === 'json',
  };
  for (const [name, ok] of Object.entries(need)) {
    const col = cols.get(name);
    if (!col || !ok(col.type)) {
      throw new SchemaError(
        `audit_logs exists but column ${JSON.stringify(name)} is ${col ? `of type ${col.type}` : 'missing'}; the runbook's queries need timestamp, action and details (jsonb)`,
      );
    }
  }
  const blocking = rows.filter((r) => r.notnull && !r.hasdefault && !(r.name in need));
  if (blocking.length > 0) {
    throw new SchemaError(`audit_logs has NOT NULL columns without defaults that Lethe cannot fill: ${blocking.map((b) => b.name).join(', ')}`);
  }
}

/** The schema version in the database, or 0 when Lethe was never migrated there. */
export async function schemaVersion(db: Pick<pg.Pool, 'query'>): Promise<number> {
  const exists = await db.query<{ ok: boolean }>(`SELECT to_regclass('lethe_schema_migrations') IS NOT NULL AS ok`);
  if (exists.rows[0]?.ok !== true) return 0;
  const { rows } = await db.query<{ v: number }>('SELECT coalesce(max(version), 0)::int AS v FROM lethe_schema_migrations');
  return rows[0]?.v ?? 0;
}
