import type { Engine } from '../engine.js';
import { readControl } from '../db/tables/control.js';
import type { SymlinkedDirectories } from '../storage/fs/objects.js';
import { FileStorage } from '../storage/fs/file-storage.js';
import {
  check,
  clockSkew,
  databaseReachable,
  DEFAULT_STORAGE_WALK_ENTRIES,
  jobsIndex,
  jobsTableUsable,
  keyGuardInstalled,
  migrationsCurrent,
  policiesPresent,
  skipped,
  storageProbe,
  storageReachable,
  storageSymlinks,
  storageVersioning,
  type DoctorCheck,
} from './doctor-checks.js';
import { recentFailures } from './doctor-failures.js';
import { checkCoverage, describeUncovered } from './coverage.js';
import { ledgerKeyFunction } from '../policy/ledger-keys.js';

export type { CheckStatus, DoctorCheck } from './doctor-checks.js';

/**
 * `lethe doctor` (runbook FM-002): a preflight of everything a run needs, for the 3 a.m. question "is it
 * Lethe, the database or the storage?". Database: reachable, migrated, the jobs table and the two
 * indexes runs depend on. Storage: reachable, a probe object written, read back and deleted under
 * `.lethe/doctor/`, the bucket's versioning state, symlinked directories under a file root (a
 * bounded walk). Clock: this host against the database. Any `fail` makes the report not ok (the
 * CLI exits 1); `warn` is said, not failed.
 */
export interface DoctorOptions {
  /** Largest tolerated difference between this host's clock and the database's (default 5 s). */
  readonly maxClockSkewMs?: number;
  /** File storage: directory entries walked at most looking for symlinked directories (default 100,000). */
  readonly maxStorageWalkEntries?: number;
}

export interface DoctorReport {
  readonly ok: boolean;
  readonly checked_at: string;
  readonly version: string;
  readonly host: string;
  readonly storage: string | null;
  readonly failed: number;
  readonly warnings: number;
  readonly checks: readonly DoctorCheck[];
}

export const DEFAULT_MAX_CLOCK_SKEW_MS = 5_000;

export async function runDoctor(engine: Engine, o: DoctorOptions = {}): Promise<DoctorReport> {
  const database = await databaseChecks(engine, o.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS);
  const checks: DoctorCheck[] = [...database, ...(await storageChecks(engine, o.maxStorageWalkEntries ?? DEFAULT_STORAGE_WALK_ENTRIES))];
  // The recent runs' failures, by code (and the directories they happened in): needs the ledger.
  const migrated = database.find((c) => c.name === 'database.migrations')?.status;
  checks.push(
    migrated === 'ok' || migrated === 'warn'
      ? await check('runs.failures', () => recentFailures(engine))
      : skipped('runs.failures', 'the database is not reachable or not migrated'),
  );
  const reachable = database.find((c) => c.name === 'database.jobs_table')?.status === 'ok';
  const storageOk = checks.find((c) => c.name === 'storage.reachable')?.status === 'ok';
  checks.push(
    reachable ? await check('derived.coverage', () => derivedCoverage(engine, storageOk)) : skipped('derived.coverage', 'the jobs table is not usable'),
  );
  const failed = checks.filter((c) => c.status === 'fail').length;
  return {
    ok: failed === 0,
    checked_at: new Date().toISOString(),
    version: engine.options.version,
    host: engine.options.host,
    storage: storageDescription(engine),
    failed,
    warnings: checks.filter((c) => c.status === 'warn').length,
    checks,
  };
}

async function databaseChecks(engine: Engine, maxSkewMs: number): Promise<DoctorCheck[]> {
  const db = engine.pool;
  const names = engine.options.jobs;
  const reachable = await check('database.reachable', () => databaseReachable(db));
  const dependent = [
    'database.migrations',
    'database.jobs_table',
    'database.index.purpose_created_at',
    'database.index.file_key',
    'database.policies',
    'clock',
    'control',
  ];
  if (reachable.status === 'fail') return [reachable, ...dependent.map((n) => skipped(n, 'the database is not reachable'))];
  const migrations = await check('database.migrations', () => migrationsCurrent(db));
  const out = [reachable, migrations];
  out.push(await check('database.jobs_table', () => jobsTableUsable(db, names)));
  out.push(
    await check('database.index.purpose_created_at', () =>
      jobsIndex(db, names, [names.purpose, names.createdAt], 'every run reads expired rows over this index range'),
    ),
  );
  out.push(await check('database.index.file_key', () => jobsIndex(db, names, [names.fileKey], 'the shared-key guard looks every batch up by file_key')));
  out.push(await check('database.key_guard', () => keyGuardInstalled(db, names)));
  out.push(migrations.status === 'fail' ? skipped('database.policies', 'not migrated') : await check('database.policies', () => policiesPresent(db)));
  out.push(await check('clock', () => clockSkew(db, maxSkewMs)));
  out.push(
    migrations.status === 'fail'
      ? skipped('control', 'not migrated')
      : await check('control', async () => {
          const c = await readControl(db);
          return c.paused
            ? {
                status: 'warn' as const,
                message: `Lethe is PAUSED by ${c.pausedBy ?? 'unknown'} at ${c.pausedAt ?? '?'}: ${c.reason ?? 'no reason given'} (runs refuse until \`lethe resume\`)`,
              }
            : { status: 'ok' as const, message: 'not paused' };
        }),
  );
  return out;
}

async function storageChecks(engine: Engine, maxWalkEntries: number): Promise<DoctorCheck[]> {
  if (engine.options.storage === null) {
    return [
      {
        name: 'storage.reachable',
        status: 'fail',
        message: 'no storage configured: set LETHE_STORAGE (file:///path or s3://bucket/prefix) or --storage',
        ms: 0,
      },
    ];
  }
  const storage = engine.storage();
  const reachable = await check('storage.reachable', () => storageReachable(storage));
  const walk = symlinkWalk(engine);
  if (reachable.status === 'fail') {
    const why = 'the storage is not reachable';
    return [reachable, skipped('storage.probe', why), skipped('storage.versioning', why), ...(walk ? [skipped('storage.symlinks', why)] : [])];
  }
  const out = [reachable, await check('storage.probe', () => storageProbe(storage)), await check('storage.versioning', () => storageVersioning(storage))];
  if (walk) out.push(await check('storage.symlinks', () => storageSymlinks(walk, maxWalkEntries)));
  return out;
}

/** File storage only (a config or a FileStorage passed in): the walk for symlinked directories. */
function symlinkWalk(engine: Engine): ((maxEntries: number) => Promise<SymlinkedDirectories>) | null {
  const s = engine.options.storage;
  if (s === null) return null;
  if ('deleteMany' in s) return s instanceof FileStorage ? (max) => s.symlinkedDirectories(max) : null;
  if (s.kind !== 'file') return null;
  const files = new FileStorage({ root: s.root });
  return (max) => files.symlinkedDirectories(max);
}

/**
 * Derived data coverage (docs/rights.md#derived-data): a table or storage prefix that holds job
 * data no declaration covers fails; orphans in the source prefixes and a capped listing warn.
 */
async function derivedCoverage(engine: Engine, withStorage: boolean) {
  const r = await checkCoverage(
    engine.pool,
    engine.options.jobs,
    withStorage ? engine.storage() : null,
    engine.options.derived,
    undefined,
    ledgerKeyFunction(engine.options.ledgerKeyHmacSecret),
  );
  const details = { tables: r.tables, prefixes: r.prefixes, objects_scanned: r.objectsScanned, truncated: r.truncated };
  if (r.uncovered > 0) return { status: 'fail' as const, message: `not covered: ${describeUncovered(r)}`, details };
  const orphans = r.prefixes.filter((p) => p.status === 'orphans');
  const notes = [
    ...(orphans.length > 0
      ? [
          `${orphans.reduce((n, p) => n + p.objects, 0)} objects in source prefixes have no row (${orphans.map((p) => p.prefix).join(', ')}): \`lethe reconcile\``,
        ]
      : []),
    ...(r.truncated ? [`the listing stopped at ${r.objectsScanned} objects; prefixes beyond were not checked`] : []),
    ...(withStorage ? [] : ['storage not reachable: only tables were checked']),
  ];
  const covered = r.tables.filter((t) => t.status !== 'uncovered').length;
  const message = `${covered} table(s) referring to jobs are declared or kept; ${r.objectsScanned} objects checked against ${engine.options.derived.objects.length} template(s)`;
  return notes.length > 0 ? { status: 'warn' as const, message: `${message}; ${notes.join('; ')}`, details } : { status: 'ok' as const, message, details };
}

function storageDescription(engine: Engine): string | null {
  const s = engine.options.storage;
  if (s === null) return null;
  return 'deleteMany' in s ? s.describe : engine.storage().describe;
}
