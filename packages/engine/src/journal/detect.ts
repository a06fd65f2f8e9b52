import type { Queryable } from '../db/pool.js';
import { decodeBatch, isJournalName, type JournalEntry } from './entries.js';
import { JournalError } from './journal.js';
import type { JournalStore } from './store.js';
import { describeError, ErrorCodes, LetheError } from '../errors.js';

/**
 * Restore detection (docs/safety.md#erasures-survive-a-backup-restore): the journal is ahead of the ledger when it holds
 * erasures whose ledger rows are missing, which is what restoring the database from a backup
 * does. Objects once seen to match the ledger are remembered (lethe_journal_checked), so each
 * object is read about once; a restore rolls that table back too, so exactly the objects written
 * after the backup are read again, and found ahead.
 */
export interface RestoreCheck {
  readonly detected: boolean;
  /** Journal objects (and their entries) whose ledger rows are missing, found by this check. */
  readonly objects: number;
  readonly entries: number;
  /** When a restore was first detected and not yet cleared by a replay, else null. */
  readonly detectedAt: string | null;
}

/** Of these entries, those the ledger holds: their run's row, or a replay's `replayed` row. */
export async function recordedEntries(db: Queryable, entries: readonly JournalEntry[]): Promise<Set<JournalEntry>> {
  const ids = entries.map((e) => e.job_id);
  const runs = [...new Set(entries.map((e) => e.run_id))];
  const { rows } = await db.query<{ job_id: string; run_id: string; outcome: string }>(
    `SELECT job_id, run_id::text, outcome FROM lethe_ledger
      WHERE (run_id = ANY($2::uuid[]) AND job_id = ANY($1::text[])) OR (outcome = 'replayed' AND job_id = ANY($1::text[]))`,
    [ids, runs],
  );
  const byRun = new Set(rows.filter((r) => r.outcome !== 'replayed').map((r) => `${r.run_id}|${r.job_id}`));
  const replayed = new Set(rows.filter((r) => r.outcome === 'replayed').map((r) => r.job_id));
  return new Set(entries.filter((e) => byRun.has(`${e.run_id}|${e.job_id}`) || replayed.has(e.job_id)));
}

/** Every journal object's name, sorted (names sort by time). */
export async function journalNames(store: JournalStore): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const n of store.list()) if (isJournalName(n)) names.push(n);
  } catch (error) {
    throw new JournalError(`the erasure journal (${store.describe}) could not be listed: ${describeError(error)}`, { cause: error });
  }
  return names.sort();
}

export async function readJournalObject(store: JournalStore, name: string): Promise<readonly JournalEntry[]> {
  let text: string | null;
  try {
    text = await store.get(name);
  } catch (error) {
    throw new JournalError(`journal object ${name} (${store.describe}) could not be read: ${describeError(error)}`, { cause: error });
  }
  return text === null ? [] : decodeBatch(name, text).entries;
}

async function uncheckedNames(db: Queryable, names: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < names.length; i += 10_000) {
    const chunk = names.slice(i, i + 10_000);
    const { rows } = await db.query<{ name: string }>(`SELECT name FROM lethe_journal_checked WHERE name = ANY($1::text[])`, [chunk]);
    const seen = new Set(rows.map((r) => r.name));
    for (const n of chunk) if (!seen.has(n)) out.push(n);
  }
  return out;
}

export async function markChecked(db: Queryable, names: readonly string[], replayId: string | null = null): Promise<void> {
  if (names.length === 0) return;
  await db.query(`INSERT INTO lethe_journal_checked (name, replay_id) SELECT n, $2::bigint FROM unnest($1::text[]) AS n ON CONFLICT (name) DO NOTHING`, [
    names,
    replayId,
  ]);
}

async function openRestore(db: Queryable): Promise<string | null> {
  const { rows } = await db.query<{ at: string }>(
    `SELECT to_char(detected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS at FROM lethe_journal_restores WHERE cleared_at IS NULL LIMIT 1`,
  );
  return rows[0]?.at ?? null;
}

/** Reads the journal objects not yet checked, and records a restore when one is ahead of the ledger. */
export async function checkForRestore(db: Queryable, store: JournalStore): Promise<RestoreCheck> {
  const unchecked = await uncheckedNames(db, await journalNames(store));
  let objects = 0;
  let entries = 0;
  let example: string | null = null;
  const matched: string[] = [];
  for (const name of unchecked) {
    const all = await readJournalObject(store, name);
    const recorded = all.length === 0 ? new Set<JournalEntry>() : await recordedEntries(db, all);
    if (recorded.size === all.length) {
      matched.push(name);
      continue;
    }
    objects += 1;
    entries += all.length - recorded.size;
    example ??= name;
  }
  await markChecked(db, matched);
  if (objects > 0) {
    await db.query(
      `INSERT INTO lethe_journal_restores (objects, entries, example) VALUES ($1, $2, $3)
       ON CONFLICT ((true)) WHERE cleared_at IS NULL DO UPDATE SET objects = EXCLUDED.objects, entries = EXCLUDED.entries, example = EXCLUDED.example`,
      [objects, entries, example],
    );
  }
  const detectedAt = await openRestore(db);
  return { detected: detectedAt !== null, objects, entries, detectedAt };
}

/** Before a scheduled run: refuse while a restore is detected and not replayed. */
export async function refuseIfRestored(db: Queryable, store: JournalStore): Promise<void> {
  const check = await checkForRestore(db, store);
  if (!check.detected) return;
  throw new LetheError(
    ErrorCodes.RESTORE_DETECTED,
    `a database restore was detected at ${check.detectedAt}: the erasure journal (${store.describe}) holds erasures the ledger does not${check.entries > 0 ? ` (${check.entries} in ${check.objects} batches)` : ''}; scheduled runs wait until \`lethe replay\` has re-erased them (docs/runbook.md#after-a-database-restore)`,
  );
}

/** For health: a detected restore not yet cleared by a replay (false when the tables do not exist yet). */
export async function restoreDetected(db: Queryable): Promise<boolean> {
  const t = await db.query<{ ok: boolean }>(`SELECT to_regclass('lethe_journal_restores') IS NOT NULL AS ok`);
  if (t.rows[0]?.ok !== true) return false;
  return (await openRestore(db)) !== null;
}
