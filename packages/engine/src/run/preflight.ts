import type pg from 'pg';
import { describeError, ErrorCodes, isConnectionLoss, LetheError, SchemaError } from '../errors.js';
import { schemaVersion } from '../db/migrate.js';
import { runNotStartedNotification } from '../notify/events.js';
import { safeNotify } from '../notify/notifier.js';
import type { ResolvedOptions } from '../options.js';
import { ledgerKeyFunction } from '../policy/ledger-keys.js';
import type { StoragePort } from '../ports.js';
import { LATEST_MIGRATION } from '../db/migrations.js';
import { checkCoverage, describeUncovered } from '../operations/coverage.js';

/**
 * The cheap part of `lethe doctor` (runbook FM-002), made by every run before it takes the lock: the
 * database answers, its schema is at this Lethe's migration, and (for a real run) the storage root
 * can be reached. A run that cannot work fails here in one clear line, before it records anything,
 * rather than half way through its first batch.
 */
export async function preflightRun(
  deps: { readonly pool: pg.Pool; readonly storage: StoragePort; readonly options: ResolvedOptions },
  o: { readonly dryRun: boolean },
): Promise<void> {
  try {
    await checkSchemaCurrent(deps.pool);
    if (!o.dryRun && deps.storage.ping) await pingStorage(deps.storage);
  } catch (error) {
    // A scheduled run that cannot start is a run that did not happen: the team hears of it.
    if (!o.dryRun && error instanceof LetheError) safeNotify(deps.options.notifier, runNotStartedNotification(error, deps.options));
    throw error;
  }
}

/**
 * Derived data coverage as a warning (docs/rights.md#derived-data): a run does not stop for a
 * table no declaration covers (`lethe doctor` fails on it), but says so in its log. engine.ts runs
 * it beside the run (not before it); never throws. Tables only: the storage half lists objects and
 * looks each up, which on S3 took a third of a small run's throughput beside it (bench:ci s3), so
 * prefixes are checked by `lethe doctor` (derived.coverage), not by every run.
 */
export async function warnUncovered(deps: { readonly pool: pg.Pool; readonly storage: StoragePort; readonly options: ResolvedOptions }): Promise<void> {
  try {
    const r = await checkCoverage(deps.pool, deps.options.jobs, null, deps.options.derived, 0, ledgerKeyFunction(deps.options.ledgerKeyHmacSecret));
    if (r.uncovered > 0) deps.options.logger.warn({ code: ErrorCodes.COVERAGE, uncovered: r.uncovered }, `derived data not covered: ${describeUncovered(r)}`);
  } catch (error) {
    deps.options.logger.warn(
      { code: ErrorCodes.COVERAGE, error: describeError(error) },
      'the derived data coverage check could not run; `lethe doctor` checks it',
    );
  }
}

async function pingStorage(storage: StoragePort): Promise<void> {
  try {
    await storage.ping!();
  } catch (error) {
    if (error instanceof LetheError) throw error;
    throw new LetheError(ErrorCodes.STORAGE, `storage ${storage.describe} is not reachable: ${describeError(error)}`, { cause: error });
  }
}

/** Throws NOT_MIGRATED below LATEST_MIGRATION, DATABASE when the database does not answer. */
export async function checkSchemaCurrent(db: Pick<pg.Pool, 'query'>): Promise<number> {
  let version: number;
  try {
    version = await schemaVersion(db);
  } catch (error) {
    if (!isConnectionLoss(error) && !isUnreachable(error)) throw error;
    throw new LetheError(
      ErrorCodes.DATABASE,
      `database not reachable: ${describeError(error)}; check DATABASE_URL and that PostgreSQL is up (\`lethe doctor\` checks it all)`,
      { cause: error },
    );
  }
  if (version < LATEST_MIGRATION) throw new SchemaError(notMigratedMessage(version), ErrorCodes.NOT_MIGRATED);
  return version;
}

export function notMigratedMessage(version: number): string {
  return version === 0
    ? "Lethe's tables are missing in this database: run `lethe migrate` first"
    : `the database schema is at version ${version}; this Lethe needs version ${LATEST_MIGRATION}: run \`lethe migrate\` first`;
}

/** pg's errors for a server it cannot reach (DNS, refused, timeout), beside lost connections. */
export function isUnreachable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (
    typeof code === 'string' &&
    ['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', '28P01', '28000', '3D000'].includes(code)
  )
    return true;
  return error instanceof Error && /timeout expired|connection timeout|Connection terminated/i.test(error.message);
}
