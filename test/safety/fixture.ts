import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createEngine, type Engine, type EngineOptions } from '@lethe/engine';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';

/** A naive UTC `created_at` this long ago, as the platform writes it. */
export const ago = (interval: string): string => `(now() AT TIME ZONE 'UTC') - interval '${interval}'`;

export interface SafetyFixture {
  readonly db: TestDatabase;
  files: TempRoot;
  /** An engine on this database and the current storage root; closed by `closeEngines`. */
  engine(extra?: Partial<EngineOptions>): Engine;
  /** Inserts rows and writes each file with its own content (`content of <key>` unless given). */
  seed(rows: readonly { id: string; key: string; purpose?: string; age?: string; body?: string }[]): Promise<void>;
  read(key: string): Promise<string>;
  /** The row as JSON (every column), or null. */
  jobRow(id: string): Promise<Record<string, unknown> | null>;
  ledger(where?: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Resets tables and gives a fresh storage root. */
  reset(): Promise<void>;
  closeEngines(): Promise<void>;
  close(): Promise<void>;
}

export async function createSafetyFixture(label: string): Promise<SafetyFixture> {
  const db = await createTestDatabase(`safety_${label}`);
  await createJobsTable(db.pool);
  const first = createEngine({ databaseUrl: db.url });
  await first.migrate();
  await first.close();
  const engines: Engine[] = [];
  const f: SafetyFixture = {
    db,
    files: await createTempRoot(`safety-${label}`),
    engine(extra = {}) {
      const e = createEngine({ databaseUrl: db.url, storage: `file://${f.files.root}`, threads: 1, ...extra });
      engines.push(e);
      return e;
    },
    async seed(rows) {
      await db.pool.query(
        `INSERT INTO jobs (id, file_key, purpose_code, created_at)
         SELECT r.id, r.k, r.p, (now() AT TIME ZONE 'UTC') - r.age::interval FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS r(id, k, p, age)`,
        [rows.map((r) => r.id), rows.map((r) => r.key), rows.map((r) => r.purpose ?? 'General'), rows.map((r) => r.age ?? '40 days')],
      );
      for (const r of rows) await f.files.put(r.key, r.body ?? `content of ${r.key}`);
    },
    read: (key) => readFile(join(f.files.root, key), 'utf8'),
    async jobRow(id) {
      const { rows } = await db.pool.query<{ j: Record<string, unknown> }>(`SELECT to_jsonb(j) AS j FROM jobs j WHERE id = $1`, [id]);
      return rows[0]?.j ?? null;
    },
    async ledger(where = 'true', params = []) {
      const { rows } = await db.pool.query(`SELECT * FROM lethe_ledger WHERE ${where} ORDER BY id`, params);
      return rows;
    },
    async reset() {
      await f.closeEngines();
      await db.pool.query(`TRUNCATE jobs, lethe_runs, lethe_ledger, lethe_holds; DELETE FROM audit_logs; UPDATE lethe_control SET paused = false`);
      await f.files.remove();
      f.files = await createTempRoot(`safety-${label}`);
    },
    async closeEngines() {
      await Promise.all(engines.splice(0).map((e) => e.close()));
    },
    async close() {
      await f.closeEngines();
      await f.files.remove();
      await db.drop();
    },
  };
  return f;
}
