import { mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createEngine,
  DEFAULT_JOBS_TABLE,
  DEFAULT_POLICIES,
  ErrorCodes,
  inspectJobsTable,
  isLetheError,
  placeHold,
  retentionToInterval,
  type JobsTable,
  type RunSummary,
} from '@lethe/engine';
import { createSafetyFixture, type SafetyFixture } from './fixture.js';

/**
 * Randomized stress: a real run (default settings: batches of 1000, 2 threads, no rate limit) over
 * a backlog on real Postgres and real files, while three "platform" writers hammer `jobs` on
 * connections of their own until the run ends: inserting live rows at existing keys (the careful
 * platform: INSERT, check the file in the same transaction, commit; retry on 40001), re-classifying
 * rows as Legal, deleting rows, and placing legal holds. Then what must hold whatever the timing
 * (docs/safety.md#races). The seeds change per run; a failure prints its seed, and
 * LETHE_STRESS_SEED=<n> replays that seed's data and choices (not its timing).
 */

const SEEDS = 3;
const BASE_SEED = Number(process.env.LETHE_STRESS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const WRITERS = 3;
/** Each writer stops when the run settles, or after this many operations. */
const MAX_OPS_PER_WRITER = 4000;
const INSERT_ATTEMPTS = 4;
const KEYS = 6000;
const VERBOSE = process.env.LETHE_STRESS_VERBOSE === '1';

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
type Rng = () => number;
const int = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));
function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)]!;
}

interface SeedRow {
  readonly id: string;
  readonly key: string;
  readonly purpose: string;
  readonly age: string;
  readonly expired: boolean;
}

/** Ages far from every retention boundary, so "expired" cannot change while a test runs. */
function expiredAge(rng: Rng): { purpose: string; age: string } {
  switch (int(rng, 0, 4)) {
    case 0:
      return { purpose: 'System Testing', age: `${int(rng, 2, 30)} days` };
    case 1:
      return { purpose: 'Financial', age: `${int(rng, 400, 900)} days` };
    case 2:
      return { purpose: 'Legal', age: `${int(rng, 8, 20)} years` };
    case 3:
      return { purpose: 'Medical', age: `${int(rng, 11, 30)} years` };
    default:
      return { purpose: 'General', age: `${int(rng, 40, 400)} days` };
  }
}
function liveAge(rng: Rng): { purpose: string; age: string } {
  switch (int(rng, 0, 4)) {
    case 0:
      return { purpose: 'System Testing', age: `${int(rng, 1, 6)} hours` };
    case 1:
      return { purpose: 'Financial', age: `${int(rng, 10, 300)} days` };
    case 2:
      return { purpose: 'Legal', age: `${int(rng, 1, 5)} years` };
    case 3:
      return { purpose: 'Medical', age: `${int(rng, 1, 8)} years` };
    default:
      return { purpose: 'General', age: `${int(rng, 1, 20)} days` };
  }
}

/** 6,000 keys: ~6,800 expired rows and ~2,000 live ones; about a third of the keys have several rows. */
function backlog(rng: Rng, tag: string): SeedRow[] {
  const rows: SeedRow[] = [];
  let n = 0;
  const add = (key: string, expired: boolean): void => {
    rows.push({ id: `s${n++}`, key, ...(expired ? expiredAge(rng) : liveAge(rng)), expired });
  };
  for (let k = 0; k < KEYS; k++) {
    const key = `${tag}/d${k % 16}/f${k}.pdf`;
    const kind = rng();
    if (kind < 0.7) {
      // Expired rows only: the key goes (with all its rows, in one batch or across batches).
      const copies = rng() < 0.8 ? 1 : int(rng, 2, 3);
      for (let c = 0; c < copies; c++) add(key, true);
    } else if (kind < 0.85) {
      // Expired rows and a live one: the key stays.
      for (let c = int(rng, 1, 2); c > 0; c--) add(key, true);
      add(key, false);
    } else {
      for (let c = rng() < 0.8 ? 1 : 2; c > 0; c--) add(key, false);
    }
  }
  // Shuffle, so rows of a key are spread over batches (the cursor reads in id order: s0, s1, s10, ...).
  for (let i = rows.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const a = rows[i]!;
    const b = rows[j]!;
    rows[i] = { ...a, id: b.id };
    rows[j] = { ...b, id: a.id };
  }
  return rows;
}

/** What the writers did, each acknowledged write with its client-side commit time. */
interface WriterLog {
  readonly inserted: Map<string, { key: string; at: number }>;
  readonly reclassified: Map<string, { at: number }>;
  readonly platformDeleted: Map<string, { key: string; fileExisted: boolean; at: number }>;
  readonly holds: { key: string; warnings: readonly string[]; at: number }[];
  readonly holdsGone: { target: string; at: number }[];
  readonly unexpected: string[];
  readonly stats: Record<
    'ops' | 'opsWhileRunning' | 'insertRolledBack' | 'insert40001' | 'insertGaveUp' | 'reclassifyMissed' | 'deleteMissed' | 'holdNotFound',
    number
  >;
}

const sqlState = (e: unknown): string | undefined => (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined);

interface WriterContext {
  readonly rng: Rng;
  readonly client: pg.Client;
  readonly table: JobsTable;
  readonly name: string;
  readonly keys: readonly string[];
  /** Row ids the platform may touch: seeded, plus rows inserted by any writer. */
  readonly ids: string[];
  readonly exists: (key: string) => Promise<boolean>;
  readonly log: WriterLog;
  readonly running: () => boolean;
}

/** (a) A careful platform: INSERT a live row at a key whose file exists, check the file in the same transaction, commit. */
async function insertShared(w: WriterContext, n: number): Promise<void> {
  // A random key whose file exists now (a few tries: most expired keys go during the run).
  let key = pick(w.rng, w.keys);
  for (let tries = 1; tries < 8 && !(await w.exists(key)); tries++) key = pick(w.rng, w.keys);
  const id = `${w.name}-${n}`;
  for (let attempt = 1; attempt <= INSERT_ATTEMPTS; attempt++) {
    await w.client.query('BEGIN');
    try {
      await w.client.query(`INSERT INTO jobs (id, file_key, purpose_code, created_at) VALUES ($1, $2, 'Medical', now() AT TIME ZONE 'UTC')`, [id, key]);
      if (!(await w.exists(key))) {
        await w.client.query('ROLLBACK');
        w.log.stats.insertRolledBack++;
        return;
      }
      await w.client.query('COMMIT');
      w.log.inserted.set(id, { key, at: performance.now() });
      w.ids.push(id);
      return;
    } catch (error) {
      await w.client.query('ROLLBACK');
      if (sqlState(error) !== '40001') throw error;
      // The key guard: a batch held the key's rows and they are gone; check the file again.
      w.log.stats.insert40001++;
      if (!(await w.exists(key))) return;
    }
  }
  w.log.stats.insertGaveUp++;
}

/** (b) Re-classify a row: Legal, created now (live for 7 years). */
async function reclassify(w: WriterContext): Promise<void> {
  const id = pick(w.rng, w.ids);
  const r = await w.client.query(`UPDATE jobs SET purpose_code = 'Legal', created_at = now() AT TIME ZONE 'UTC' WHERE id = $1`, [id]);
  if (r.rowCount === 1) w.log.reclassified.set(id, { at: performance.now() });
  else w.log.stats.reclassifyMissed++;
}

/** (c) The platform deletes a job. */
async function deleteRow(w: WriterContext): Promise<void> {
  const id = pick(w.rng, w.ids);
  const r = await w.client.query<{ file_key: string }>(`DELETE FROM jobs WHERE id = $1 RETURNING file_key`, [id]);
  const key = r.rows[0]?.file_key;
  if (key === undefined) {
    w.log.stats.deleteMissed++;
    return;
  }
  const at = performance.now();
  w.log.platformDeleted.set(id, { key, fileExisted: await w.exists(key), at });
}

/** (d) A legal hold, by key (mostly) or by job id, in the writer's own transaction. */
async function hold(w: WriterContext): Promise<void> {
  const byJob = w.rng() < 0.3;
  const target = byJob ? { jobId: pick(w.rng, w.ids) } : { fileKey: pick(w.rng, w.keys) };
  await w.client.query('BEGIN');
  try {
    const h = await placeHold(w.client, w.table, { target, reason: 'stress: litigation', by: w.name });
    await w.client.query('COMMIT');
    w.log.holds.push({ key: h.fileKey, warnings: h.warnings, at: performance.now() });
  } catch (error) {
    await w.client.query('ROLLBACK');
    if (isLetheError(error) && error.code === ErrorCodes.GONE)
      w.log.holdsGone.push({ target: 'jobId' in target ? target.jobId : target.fileKey, at: performance.now() });
    // A job id that no longer exists (erased or deleted before the call): nothing was placed.
    else if (isLetheError(error) && error.code === ErrorCodes.NOT_FOUND && byJob) w.log.stats.holdNotFound++;
    else throw error;
  }
}

async function writer(w: WriterContext): Promise<void> {
  for (let op = 0; op < MAX_OPS_PER_WRITER && w.running(); op++) {
    const r = w.rng();
    try {
      if (r < 0.4) await insertShared(w, op);
      else if (r < 0.6) await reclassify(w);
      else if (r < 0.75) await deleteRow(w);
      else await hold(w);
    } catch (error) {
      w.log.unexpected.push(`${w.name} op ${op}: ${error instanceof Error ? error.message : String(error)}`);
    }
    w.log.stats.ops++;
    if (w.running()) w.log.stats.opsWhileRunning++;
  }
}

let f: SafetyFixture;
let table: JobsTable;
/** Naive-UTC retention per purpose, as SQL: `expired` is created_at + retention < now. */
const POLICY_VALUES = Object.entries(DEFAULT_POLICIES)
  .map(([p, r]) => `('${p.replace(/'/g, "''")}', interval '${retentionToInterval(r)}')`)
  .join(', ');

beforeAll(async () => {
  f = await createSafetyFixture('writers');
  table = await inspectJobsTable(f.db.pool, DEFAULT_JOBS_TABLE);
});
afterAll(async () => {
  await f.close();
});
beforeEach(async () => {
  await f.reset();
});

/** Many writes in flight: creating a file costs a disk round trip here, not CPU. */
async function putAll(keys: readonly string[]): Promise<void> {
  for (const d of new Set(keys.map((k) => dirname(join(f.files.root, k))))) await mkdir(d, { recursive: true });
  for (let i = 0; i < keys.length; i += 256) await Promise.all(keys.slice(i, i + 256).map((k) => writeFile(join(f.files.root, k), `content of ${k}`)));
}

/** Which of the keys have no file, looked up many at a time. */
async function missing(keys: readonly string[], exists: (key: string) => Promise<boolean>): Promise<Set<string>> {
  const gone = new Set<string>();
  for (let i = 0; i < keys.length; i += 256) {
    const chunk = keys.slice(i, i + 256);
    const there = await Promise.all(chunk.map(exists));
    chunk.forEach((k, j) => {
      if (!there[j]) gone.add(k);
    });
  }
  return gone;
}

async function runWithWriters(seed: number): Promise<void> {
  const rng = prng(seed);
  const tag = `s${seed}`;
  const seeded = backlog(rng, tag);
  const byId = new Map(seeded.map((r) => [r.id, r]));
  const keys = [...new Set(seeded.map((r) => r.key))];
  await f.db.pool.query(
    `INSERT INTO jobs (id, file_key, purpose_code, created_at)
     SELECT r.id, r.k, r.p, (now() AT TIME ZONE 'UTC') - r.age::interval FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS r(id, k, p, age)`,
    [seeded.map((r) => r.id), seeded.map((r) => r.key), seeded.map((r) => r.purpose), seeded.map((r) => r.age)],
  );
  await putAll(keys);
  const seededCreated = new Map<string, number>();
  for (const r of (await f.db.pool.query<{ id: string; ms: number }>(`SELECT id, (extract(epoch FROM created_at) * 1000)::float8 AS ms FROM jobs`)).rows)
    seededCreated.set(r.id, r.ms);

  const exists = (key: string): Promise<boolean> =>
    stat(join(f.files.root, key)).then(
      () => true,
      () => false,
    );
  const log: WriterLog = {
    inserted: new Map(),
    reclassified: new Map(),
    platformDeleted: new Map(),
    holds: [],
    holdsGone: [],
    unexpected: [],
    stats: { ops: 0, opsWhileRunning: 0, insertRolledBack: 0, insert40001: 0, insertGaveUp: 0, reclassifyMissed: 0, deleteMissed: 0, holdNotFound: 0 },
  };
  const ids = seeded.map((r) => r.id);
  const clients: pg.Client[] = [];
  for (let i = 0; i < WRITERS; i++) {
    const c = new pg.Client({ connectionString: f.db.url, options: '-c TimeZone=UTC' });
    c.on('error', () => {});
    await c.connect();
    clients.push(c);
  }
  const engine = createEngine({ databaseUrl: f.db.url, storage: `file://${f.files.root}` });
  let running = true;
  let first: RunSummary;
  let second: RunSummary;
  const started = performance.now();
  let runMs = 0;
  try {
    const run = engine.run().finally(() => {
      running = false;
      runMs = performance.now() - started;
    });
    const writers = clients.map((client, i) =>
      writer({ rng: prng(seed * 31 + i + 1), client, table, name: `w${i}`, keys, ids, exists, log, running: () => running }),
    );
    const [r] = await Promise.allSettled([run, Promise.all(writers)]);
    if (r.status === 'rejected') throw r.reason;
    first = r.value;
    // A quiet second run: whatever the first kept only because a writer was busy with it goes now.
    second = await engine.run();
  } finally {
    await engine.close();
    await Promise.all(clients.map((c) => c.end()));
  }
  if (VERBOSE)
    console.log(
      JSON.stringify({
        seed,
        runMs: Math.round(runMs),
        first: pickCounts(first),
        second: pickCounts(second),
        inserted: log.inserted.size,
        reclassified: log.reclassified.size,
        platformDeleted: log.platformDeleted.size,
        holds: log.holds.length,
        holdsGone: log.holdsGone.length,
        orphaned: [...log.platformDeleted.values()].filter((d) => d.fileExisted).length,
        ...log.stats,
      }),
    );

  // The writers really wrote while the run ran, and nothing they did failed unexpectedly.
  expect(log.unexpected).toEqual([]);
  expect(log.stats.opsWhileRunning).toBeGreaterThan(0);
  expect(first.status).toBe('completed');
  expect(second.status).toBe('completed');

  const gone = await missing(keys, exists);
  const jobs = (
    await f.db.pool.query<{ id: string; file_key: string; purpose_code: string; expired: boolean; held: boolean; shared_live: boolean }>(
      `WITH p(purpose, retention) AS (VALUES ${POLICY_VALUES}),
          j AS (SELECT j.id, j.file_key, j.purpose_code, j.created_at + p.retention < (now() AT TIME ZONE 'UTC') AS expired FROM jobs j JOIN p ON p.purpose = j.purpose_code)
     SELECT j.*, EXISTS (SELECT 1 FROM lethe_holds h WHERE h.file_key = j.file_key AND h.released_at IS NULL) AS held,
            EXISTS (SELECT 1 FROM j l WHERE l.file_key = j.file_key AND NOT l.expired) AS shared_live FROM j`,
    )
  ).rows;
  const total = (await f.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs`)).rows[0]!.n;
  expect(jobs.length, 'every row has a known purpose').toBe(total);

  // 1. A live row (seeded live, inserted, or re-classified) never loses its file: the re-check keeps
  //    every key a live row refers to, and the key guard makes an insert at a key being erased wait
  //    and fail (the careful writer then finds the file gone and rolls back).
  const liveWithoutFile = jobs.filter((j) => !j.expired && gone.has(j.file_key));
  expect(
    liveWithoutFile.map((j) => `${j.id} ${j.purpose_code} ${j.file_key} ${describeKey(j.file_key, log)}`),
    'live rows whose file is gone',
  ).toEqual([]);
  // ...nor does an acknowledged hold: placeHold either locked a row of the key before the batch
  // (the batch then keeps the key) or waited for it and threw LETHE_E_GONE. The one exception is a
  // hold on a key no row referred to any more, which placeHold acknowledges with a warning naming
  // the erasure.
  const heldButGone = log.holds.filter((h) => gone.has(h.key) && !h.warnings.some((w) => /was erased by run/.test(w)));
  expect(
    heldButGone.map((h) => `${h.key} ${JSON.stringify(h.warnings)}`),
    'acknowledged holds whose file is gone',
  ).toEqual([]);
  // Its warning does not lie either: no writer brings a file back.
  for (const h of log.holds)
    if (h.warnings.some((w) => /was erased by run/.test(w))) expect(gone.has(h.key), `hold warned ${h.key} was erased, but its file is there`).toBe(true);
  // A hold refused as LETHE_E_GONE was refused because its key was erased just then.
  for (const g of log.holdsGone) {
    const key = byId.get(g.target)?.key ?? log.inserted.get(g.target)?.key ?? g.target;
    expect(gone.has(key), `hold refused as gone on ${g.target} (${key}), but the file is there`).toBe(true);
  }

  const ledger = (
    await f.db.pool.query<{
      run_id: string;
      job_id: string;
      file_key: string;
      outcome: string;
      purpose_code: string;
      created_ms: number;
      row_purpose: string | null;
      recent_legal: boolean;
    }>(
      `SELECT run_id::text, job_id, file_key, outcome, purpose_code, (extract(epoch FROM created_at) * 1000)::float8 AS created_ms,
            job_row->>'purpose_code' AS row_purpose,
            purpose_code = 'Legal' AND created_at > now() - interval '1 day' AS recent_legal
       FROM lethe_ledger ORDER BY id`,
    )
  ).rows;
  // No storage fault here: every outcome is an erasure (or "absent" for a second row of an erased key).
  expect(ledger.filter((l) => l.outcome !== 'erased' && l.outcome !== 'absent').map((l) => `${l.job_id} ${l.outcome}`)).toEqual([]);

  // 2. The ledger accounts for every file that went, exactly once: no writer brings a file back and
  //    a key is erased only with every row that refers to it, so a key whose file is missing has
  //    exactly one 'erased' row, a key whose file is there has none, and no row is recorded twice.
  const erasedPerKey = new Map<string, number>();
  for (const l of ledger) {
    if (l.outcome === 'erased') erasedPerKey.set(l.file_key, (erasedPerKey.get(l.file_key) ?? 0) + 1);
    expect(gone.has(l.file_key), `ledger row ${l.job_id} (${l.outcome}) for ${l.file_key}, whose file is still there`).toBe(true);
  }
  // (This covers files whose last row the platform deleted: no row is left to select them, so they stay.)
  for (const k of gone) expect(erasedPerKey.get(k) ?? 0, `'erased' ledger rows for the missing file ${k} ${describeKey(k, log)}`).toBe(1);
  const ledgerIds = new Set<string>();
  for (const l of ledger) {
    expect(ledgerIds.has(l.job_id), `job ${l.job_id} recorded twice`).toBe(false);
    ledgerIds.add(l.job_id);
  }
  // Every row that ever existed is exactly one of: still in jobs, deleted by the platform (its
  // DELETE returned it, so Lethe never held it: no ledger row), or removed by Lethe (a ledger row).
  const inJobs = new Set(jobs.map((j) => j.id));
  for (const id of log.platformDeleted.keys()) expect(ledgerIds.has(id), `the platform deleted ${id}, yet the ledger records it`).toBe(false);
  const everExisted = [...byId.keys(), ...log.inserted.keys()];
  const unaccounted = everExisted.filter((id) => [inJobs.has(id), log.platformDeleted.has(id), ledgerIds.has(id)].filter(Boolean).length !== 1);
  expect(unaccounted.slice(0, 20), `rows not accounted for exactly once (${unaccounted.length})`).toEqual([]);
  expect(inJobs.size + log.platformDeleted.size + ledgerIds.size).toBe(everExisted.length);

  // 3. Ledger rows record the row as it was when removed. Re-classified rows and inserted rows are
  //    live from their commit on, and an acknowledged UPDATE means the row was there when it
  //    committed, so Lethe (which removes a row only in the batch that locked it) removed none of
  //    them: every ledger row is a seeded expired row with its seeded purpose and created_at, in
  //    the column and in job_row, and none is a Legal row created in the last day.
  for (const l of ledger) {
    const s = byId.get(l.job_id);
    expect(s, `ledger row ${l.job_id} is not a seeded row (inserted: ${log.inserted.has(l.job_id)})`).toBeDefined();
    expect(log.reclassified.has(l.job_id), `re-classified row ${l.job_id} was erased`).toBe(false);
    expect(s!.expired, `ledger row ${l.job_id} was seeded live`).toBe(true);
    expect([l.purpose_code, l.row_purpose]).toEqual([s!.purpose, s!.purpose]);
    expect(Math.abs(l.created_ms - seededCreated.get(l.job_id)!), `created_at of ${l.job_id}`).toBeLessThan(1);
    expect(l.recent_legal).toBe(false);
  }

  // 4. Each run's summary agrees with its ledger rows.
  for (const s of [first, second]) {
    expect(s.deleted_count).toBe(ledger.filter((l) => l.run_id === s.run_id).length);
    expect(s.erased_count).toBe(ledger.filter((l) => l.run_id === s.run_id && l.outcome === 'erased').length);
  }

  // And the runs converge: after the quiet second run, an expired row is left only when a hold or a live row keeps its key.
  const stuck = jobs.filter((j) => j.expired && !j.held && !j.shared_live);
  expect(stuck.map((j) => `${j.id} ${j.file_key}`).slice(0, 20), `expired rows left after a quiet run (${stuck.length})`).toEqual([]);
}

function pickCounts(s: RunSummary): Record<string, number | string> {
  return {
    status: s.status,
    selected: s.selected_count,
    deleted: s.deleted_count,
    erased: s.erased_count,
    shared: s.shared_count,
    held: s.held_count,
    changed: s.changed_count,
    vanished: s.vanished_count,
  };
}

/** What the writers did at a key, for failure messages. */
function describeKey(key: string, log: WriterLog): string {
  const ins = [...log.inserted].filter(([, v]) => v.key === key).map(([id, v]) => `inserted ${id}@${Math.round(v.at)}`);
  const del = [...log.platformDeleted].filter(([, v]) => v.key === key).map(([id, v]) => `deleted ${id}@${Math.round(v.at)}`);
  const held = log.holds.filter((h) => h.key === key).map((h) => `held@${Math.round(h.at)}`);
  return `[${[...ins, ...del, ...held].join(', ')}]`;
}

describe('a run while the platform writes jobs (randomized)', () => {
  for (let i = 0; i < SEEDS; i++) {
    const seed = BASE_SEED + i;
    it(`seed ${i + 1} of ${SEEDS}: live rows and acknowledged holds keep their files; the ledger accounts for every file and row`, async () => {
      try {
        await runWithWriters(seed);
      } catch (error) {
        console.error(
          `concurrent-writers: failed with seed ${seed} (seed ${i + 1} of LETHE_STRESS_SEED=${BASE_SEED}: rerun with it to replay the data and the writers' choices)`,
        );
        throw error;
      }
    }, 60_000);
  }
});
