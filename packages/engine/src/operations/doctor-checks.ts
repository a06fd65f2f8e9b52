import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/pool.js';
import type { Engine } from '../engine.js';
import { describeError } from '../errors.js';
import { inspectJobsTable, type JobsTableNames } from '../db/jobs-table.js';
import { schemaVersion } from '../db/migrate.js';
import { loadCurrentPolicies } from '../db/tables/policy-versions.js';
import type { StoragePort } from '../ports.js';
import type { SymlinkedDirectories } from '../storage/fs/objects.js';
import { quoteIdent } from '../db/identifiers.js';
import { hasLeadingIndex, listIndexes } from '../db/indexes.js';
import { LATEST_MIGRATION } from '../db/migrations.js';
import { hasKeyGuard, KEY_GUARD_TRIGGER } from '../run/keep/key-guard.js';
import { notMigratedMessage } from '../run/preflight.js';

/**
 * The checks of `lethe doctor` (runbook FM-002 "check storage permissions", "check R2
 * connectivity"), one function each. A check never throws: it answers ok / warn / fail / skip
 * with one line saying what it saw and, when it is not ok, what to do.
 */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface DoctorCheck {
  readonly name: string;
  readonly status: CheckStatus;
  readonly message: string;
  readonly ms: number;
  readonly details?: Readonly<Record<string, unknown>>;
}

type Outcome = Omit<DoctorCheck, 'name' | 'ms'>;

export async function check(name: string, fn: () => Promise<Outcome>): Promise<DoctorCheck> {
  const started = performance.now();
  let outcome: Outcome;
  try {
    outcome = await fn();
  } catch (error) {
    outcome = { status: 'fail', message: describeError(error) };
  }
  return { name, ...outcome, ms: Math.round(performance.now() - started) };
}

export const skipped = (name: string, why: string): DoctorCheck => ({ name, status: 'skip', message: why, ms: 0 });

export async function databaseReachable(db: Queryable): Promise<Outcome> {
  const { rows } = await db.query<{ v: string; tz: string }>(`SELECT current_setting('server_version') AS v, current_setting('TimeZone') AS tz`);
  const r = rows[0]!;
  return {
    status: r.tz === 'UTC' ? 'ok' : 'warn',
    message: `PostgreSQL ${r.v} answers; session time zone ${r.tz}${r.tz === 'UTC' ? '' : ' (Lethe expects UTC: DESIGN "Time")'}`,
    details: { server_version: r.v, time_zone: r.tz },
  };
}

export async function migrationsCurrent(db: Queryable): Promise<Outcome> {
  const version = await schemaVersion(db);
  const details = { schema_version: version, latest_migration: LATEST_MIGRATION };
  if (version < LATEST_MIGRATION) return { status: 'fail', message: notMigratedMessage(version), details };
  if (version > LATEST_MIGRATION) {
    return {
      status: 'warn',
      message: `schema version ${version} is newer than this Lethe knows (${LATEST_MIGRATION}): a newer Lethe migrated this database (a rollback? EMERGENCY-003)`,
      details,
    };
  }
  return { status: 'ok', message: `schema at version ${version} (this Lethe's latest)`, details };
}

export async function jobsTableUsable(db: Queryable, names: JobsTableNames): Promise<Outcome> {
  const t = await inspectJobsTable(db, names);
  return {
    status: 'ok',
    message: `${names.table}: columns ${names.id} (${t.idType}), ${names.fileKey}, ${names.purpose}, ${names.createdAt} (${t.naiveTimestamps ? 'timestamp, naive UTC' : 'timestamptz'})`,
  };
}

/** The index a column list needs: present, valid (a failed CONCURRENTLY build leaves an INVALID one), not partial. */
export async function jobsIndex(db: Queryable, names: JobsTableNames, columns: readonly string[], why: string): Promise<Outcome> {
  const indexes = await listIndexes(db, quoteIdent(names.table));
  const wanted = `(${columns.join(', ')})`;
  if (hasLeadingIndex(indexes, columns)) {
    const ix = indexes.find((i) => i.valid && !i.partial && columns.every((c, n) => i.columns[n] === c))!;
    return { status: 'ok', message: `${ix.name} on ${names.table} ${wanted}`, details: { index: ix.name } };
  }
  const invalid = indexes.find((i) => !i.valid && columns.every((c, n) => i.columns[n] === c));
  const message = invalid
    ? `index ${invalid.name} on ${names.table} ${wanted} is INVALID (a failed concurrent build): run \`lethe migrate\` to rebuild it`
    : `no index on ${names.table} ${wanted}: ${why}; run \`lethe migrate\` (it builds it CONCURRENTLY)`;
  return { status: 'fail', message };
}

/** The key guard trigger (docs/safety.md#shared-keys): without it a row inserted at a key being erased is not protected. */
export async function keyGuardInstalled(db: Queryable, names: JobsTableNames): Promise<Outcome> {
  if (await hasKeyGuard(db, names))
    return { status: 'ok', message: `trigger ${KEY_GUARD_TRIGGER} on ${names.table}: a row written at a key a batch is erasing waits, then fails with 40001` };
  return {
    status: 'warn',
    message: `no enabled ${KEY_GUARD_TRIGGER} trigger on ${names.table}: a row the platform inserts at a key while a batch erases it is not protected; run \`lethe migrate\` (docs/safety.md#shared-keys)`,
  };
}

export async function policiesPresent(db: Queryable): Promise<Outcome> {
  const current = await loadCurrentPolicies(db);
  return {
    status: 'ok',
    message: `policy version ${current.version} in force (${Object.keys(current.policies).length} purposes)`,
    details: { policy_version: current.version },
  };
}

/**
 * This host's clock against the database's (the cutoff comes from the database; the daemon's
 * schedule and health's "overdue" from this clock). The midpoint of the round trip is compared.
 */
export async function clockSkew(db: Queryable, maxSkewMs: number): Promise<Outcome> {
  const before = Date.now();
  const { rows } = await db.query<{ ms: string }>(`SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8::text AS ms`);
  const after = Date.now();
  const skewMs = Math.round((before + after) / 2 - Number(rows[0]!.ms));
  const details = { skew_ms: skewMs, round_trip_ms: after - before, max_skew_ms: maxSkewMs };
  const text = `this host's clock is ${Math.abs(skewMs)} ms ${skewMs >= 0 ? 'ahead of' : 'behind'} the database's`;
  if (Math.abs(skewMs) > maxSkewMs)
    return {
      status: 'fail',
      message: `${text} (more than ${maxSkewMs} ms): fix NTP on this host or the database server; schedules and health judge time by this clock`,
      details,
    };
  return { status: 'ok', message: `${text} (within ${maxSkewMs} ms)`, details };
}

export async function storageReachable(storage: StoragePort): Promise<Outcome> {
  if (!storage.ping) return { status: 'skip', message: `${storage.describe}: this store has no reachability check` };
  await storage.ping();
  return { status: 'ok', message: `${storage.describe} is reachable` };
}

/** Write, read back and delete a probe object under `.lethe/doctor/`: what runs and restores need. */
export async function storageProbe(storage: StoragePort): Promise<Outcome> {
  if (!storage.probe) return { status: 'skip', message: `${storage.describe}: this store has no probe` };
  const result = await storage.probe(`probe-${randomUUID()}`);
  const failed = result.steps.find((s) => !s.ok);
  const steps = result.steps.map((s) => `${s.step} ${s.ok ? 'ok' : 'FAILED'} (${s.ms} ms)`).join(', ');
  const details = { key: result.key, steps: result.steps };
  if (failed) {
    const left = failed.step === 'delete' ? `; the probe object ${result.key} may be left behind` : '';
    return {
      status: 'fail',
      message: `${failed.step} of ${result.key} failed: ${failed.code}: ${failed.message}${left} (check the storage permissions: runbook FM-002)`,
      details,
    };
  }
  return { status: 'ok', message: `${steps} under .lethe/doctor/`, details };
}

/** S3 only: the bucket's versioning decides what a delete erases (docs/storage-s3.md). */
export async function storageVersioning(storage: StoragePort): Promise<Outcome> {
  const state = storage.describeState ? await storage.describeState() : {};
  const versioning = state.versioning;
  if (versioning === undefined) return { status: 'skip', message: `${storage.describe}: no versioning to check (not S3)` };
  const details = { versioning, versions_mode: state.versions_mode, deletes: state.deletes };
  if (versioning === 'unreadable') {
    return {
      status: 'fail',
      message: `the bucket's versioning state cannot be read (GetBucketVersioning denied?): Lethe fails closed and deletes nothing; grant s3:GetBucketVersioning`,
      details,
    };
  }
  if (versioning !== 'Unversioned' && state.versions_mode === 'keep') {
    return {
      status: 'warn',
      message: `versioning ${String(versioning)}, versions=keep: deletes add a delete marker and noncurrent versions stay until a lifecycle rule expires them`,
      details,
    };
  }
  return { status: 'ok', message: `versioning ${String(versioning)}: deletes are ${String(state.deletes)}`, details };
}

/** Directory entries `lethe doctor` walks at most looking for symlinked directories. */
export const DEFAULT_STORAGE_WALK_ENTRIES = 100_000;

/**
 * Files only: symlinked directories under the root. Through one, two keys name one file, and the
 * shared-key guard (it compares keys) cannot see that a live row still needs a file an expired
 * row's key names. A warning, not a failure: such a tree can be deliberate.
 */
export async function storageSymlinks(walk: (maxEntries: number) => Promise<SymlinkedDirectories>, maxEntries: number): Promise<Outcome> {
  const found = await walk(maxEntries);
  const stopped = found.bounded ? ` (walk stopped after ${found.entriesWalked} entries)` : '';
  const details = {
    symlinked_directories: found.examples,
    count: found.count,
    entries_walked: found.entriesWalked,
    bounded: found.bounded,
    max_entries: maxEntries,
  };
  if (found.count === 0) {
    return { status: 'ok', message: `no symlinked directories under the root (${found.entriesWalked} entries walked)${stopped}`, details };
  }
  const more = found.count > found.examples.length ? ', ...' : '';
  const what = found.count === 1 ? '1 symlinked directory' : `${found.count} symlinked directories`;
  return {
    status: 'warn',
    message: `${what} under the root${stopped}: ${found.examples.join(', ')}${more}; through one, two keys can name one file, which the shared-key guard cannot see: replace them with real directories, or make sure no two rows name one file through them`,
    details,
  };
}
