import { randomInt } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import type pg from 'pg';
import { expect } from 'vitest';
import { isJournalKey, type TempRoot } from '../support/files.js';

/**
 * Shared by the fault-proof tests (docs/safety.md#what-is-guaranteed-while-the-world-moves): the seed, fast fixtures, and the invariants that must
 * hold at every instant, not only at the end (after a kill, a lost connection, a crashed batch).
 */

/** The seed for this file: $LETHE_FAULT_SEED when set (to replay a failure), else a fresh one. Printed either way. */
export function faultSeed(file: string): number {
  const given = process.env.LETHE_FAULT_SEED;
  const seed = given === undefined || given === '' ? randomInt(1, 2 ** 31 - 1) : Number(given);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`LETHE_FAULT_SEED: expected a non-negative integer, got ${JSON.stringify(given)}`);
  console.log(`[faults] ${file}: seed ${seed} (replay with LETHE_FAULT_SEED=${seed})`);
  return seed;
}

export const UTC_NOW = `(now() AT TIME ZONE 'UTC')`;

/**
 * Job rows in one statement: ids `${idPrefix}${n}`, created `age` ago (naive UTC). With `staggerMs`,
 * row n is created n * staggerMs later than row 0, so the run reads them in key order (batches are
 * then known in advance).
 */
export async function insertRows(pool: pg.Pool, idPrefix: string, keys: readonly string[], purpose: string, age: string, staggerMs = 0): Promise<string[]> {
  const ids = keys.map((_, i) => `${idPrefix}${i}`);
  await pool.query(
    `INSERT INTO jobs (id, file_key, purpose_code, created_at)
     SELECT id, k, $3, ${UTC_NOW} - $4::interval + (n - 1) * $5::int * interval '1 millisecond'
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(id, k, n)`,
    [ids, keys, purpose, age, staggerMs],
  );
  return ids;
}

/** Writes files by key, 64 at a time (directories first). */
export async function putFiles(root: string, keys: readonly string[], content = 'x'): Promise<void> {
  const dirs = [...new Set(keys.map((k) => dirname(join(root, k))))];
  for (const d of dirs) await mkdir(d, { recursive: true });
  for (let i = 0; i < keys.length; i += 64) {
    await Promise.all(keys.slice(i, i + 64).map((k) => writeFile(join(root, k), content)));
  }
}

/** Every file under the root, as keys (one directory walk instead of a stat per key). */
export async function filesPresent(root: string): Promise<Set<string>> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const out = new Set<string>();
  for (const e of entries) {
    if (!e.isFile()) continue;
    const key = join(e.parentPath, e.name)
      .slice(root.length + 1)
      .split(sep)
      .join('/');
    // The erasure journal is not a document; the trash (under .lethe/trash/) is what undo tests look at.
    if (!isJournalKey(key)) out.add(key);
  }
  return out;
}

/** Polls `check` every `intervalMs` until it returns true or the deadline passes (no fixed sleeps). */
export async function pollUntil(check: () => Promise<boolean>, timeoutMs: number, what: string, intervalMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface Consistency {
  /** Ids of expired rows still in `jobs` whose file is already gone: a stop between storage and the ledger. */
  readonly gap: readonly string[];
  /** Expired rows removed so far (each with its ledger row). */
  readonly removed: number;
}

/**
 * The invariants that hold at any instant (DESIGN 1 and 5), whatever stopped the run:
 * no live file or row gone; no job row removed without exactly one erased/absent ledger row; no
 * ledger-recorded removal whose file is still there; no file erased twice. Returns how many rows
 * are in the storage-then-database gap, which the next run must record as absent.
 */
export async function expectConsistent(
  pool: pg.Pool,
  files: TempRoot,
  expired: { readonly ids: readonly string[]; readonly keys: readonly string[] },
  liveKeys: readonly string[],
  context: string,
): Promise<Consistency> {
  const present = await filesPresent(files.root);
  const lostLive = liveKeys.filter((k) => !present.has(k));
  expect(lostLive, `${context}: live files must all exist`).toEqual([]);
  const live = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs WHERE file_key = ANY($1)', [liveKeys]);
  expect(live.rows[0]!.n, `${context}: every live row kept`).toBe(liveKeys.length);
  const orphaned = await pool.query<{ id: string }>(
    `SELECT id FROM unnest($1::text[]) AS t(id)
      WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = t.id)
        AND NOT EXISTS (SELECT 1 FROM lethe_ledger l WHERE l.job_id = t.id AND l.outcome IN ('erased', 'absent'))`,
    [expired.ids],
  );
  expect(orphaned.rows, `${context}: no job row removed without its ledger row`).toEqual([]);
  const both = await pool.query<{ job_id: string }>(
    `SELECT l.job_id FROM lethe_ledger l JOIN jobs j ON j.id = l.job_id WHERE l.outcome IN ('erased', 'absent')`,
  );
  expect(both.rows, `${context}: a row recorded as removed is really gone`).toEqual([]);
  const twice = await pool.query(`SELECT job_id FROM lethe_ledger WHERE outcome IN ('erased', 'absent') GROUP BY job_id HAVING count(*) > 1`);
  expect(twice.rows, `${context}: at most one removal ledger row per job row`).toEqual([]);
  const erasedTwice = await pool.query(`SELECT file_key FROM lethe_ledger WHERE outcome = 'erased' GROUP BY file_key HAVING count(*) > 1`);
  expect(erasedTwice.rows, `${context}: no file erased twice`).toEqual([]);
  const ledgered = await pool.query<{ file_key: string }>(
    `SELECT DISTINCT file_key FROM lethe_ledger WHERE outcome IN ('erased', 'absent') AND file_key = ANY($1)`,
    [expired.keys],
  );
  const stillThere = ledgered.rows.map((r) => r.file_key).filter((k) => present.has(k));
  expect(stillThere, `${context}: a file recorded as erased or absent is gone`).toEqual([]);
  const kept = await pool.query<{ id: string; file_key: string }>('SELECT id, file_key FROM jobs WHERE id = ANY($1)', [expired.ids]);
  const gap = kept.rows.filter((r) => !present.has(r.file_key)).map((r) => r.id);
  return { gap, removed: expired.ids.length - kept.rows.length };
}
