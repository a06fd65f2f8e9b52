import type { Queryable } from '../../db/pool.js';
import type { JobsTableNames } from '../../db/jobs-table.js';
import { quoteIdent } from '../../db/identifiers.js';

/**
 * The key guard (docs/safety.md#shared-keys). A batch erases a file_key only after it has locked
 * FOR UPDATE every row that refers to the key (../recheck.ts), and it holds those locks until
 * its commit, after the storage call. A row the platform inserts at a key (or re-points at it) is
 * not one of them, so this trigger makes the write lock one existing row of the key FOR KEY SHARE:
 *
 * - if a batch holds the key's rows, the write waits for the batch to commit; when the rows are
 *   then gone, the file went with them, and the write fails with SQLSTATE 40001
 *   (serialization_failure): the writer must retry its transaction and check (or upload) the file;
 * - if the write locks a row first, a batch skips that row (SKIP LOCKED), sees the key is in use,
 *   and keeps the file.
 *
 * SECURITY DEFINER: FOR KEY SHARE needs UPDATE rights on the table, which an insert-only platform
 * role may lack; the function runs as the role that migrated, with migrate's search_path.
 *
 * Row locks, not advisory locks: a batch of 1000 keys would take 1000 entries of the server's
 * shared lock table per transaction (64 x max_connections in all by default).
 */
export const KEY_GUARD_TRIGGER = 'lethe_key_guard';
export const KEY_GUARD_FUNCTION = 'lethe_jobs_key_guard';

export function keyGuardFunctionSql(names: JobsTableNames): string {
  const table = quoteIdent(names.table);
  const col = quoteIdent(names.fileKey);
  return `CREATE OR REPLACE FUNCTION ${KEY_GUARD_FUNCTION}() RETURNS trigger LANGUAGE plpgsql
  SECURITY DEFINER SET search_path FROM CURRENT AS $fn$
BEGIN
  IF NEW.${col} IS NULL OR (TG_OP = 'UPDATE' AND NEW.${col} IS NOT DISTINCT FROM OLD.${col}) THEN
    RETURN NEW;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM ${table} WHERE ${col} = NEW.${col}) THEN
    RETURN NEW;
  END IF;
  PERFORM 1 FROM ${table} WHERE ${col} = NEW.${col} LIMIT 1 FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'lethe: file_key % was erased by a retention run while this row was written', NEW.${col}
      USING ERRCODE = '40001', HINT = 'the file is gone: retry the transaction and check (or upload) the file again';
  END IF;
  RETURN NEW;
END
$fn$`;
}

export function keyGuardTriggerSql(names: JobsTableNames): string {
  return `CREATE TRIGGER ${KEY_GUARD_TRIGGER} BEFORE INSERT OR UPDATE OF ${quoteIdent(names.fileKey)} ON ${quoteIdent(names.table)}
  FOR EACH ROW EXECUTE FUNCTION ${KEY_GUARD_FUNCTION}()`;
}

/** Whether the key guard trigger is on the table and enabled (`lethe doctor`). */
export async function hasKeyGuard(db: Queryable, names: JobsTableNames): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = $2 AND NOT tgisinternal AND tgenabled <> 'D') AS ok`,
    [quoteIdent(names.table), KEY_GUARD_TRIGGER],
  );
  return rows[0]?.ok === true;
}
