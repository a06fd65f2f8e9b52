import { mkdir, mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createEngine } from '@lethe/engine';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../../support/database.js';
import { lethe, type CliResult } from './cli.js';

/** `(now() AT TIME ZONE 'UTC') - interval '...'`: a naive UTC created_at, as the platform writes it. */
export const ago = (interval: string): string => `(now() AT TIME ZONE 'UTC') - interval '${interval}'`;

export interface CliFixture {
  readonly db: TestDatabase;
  /** The storage root (a fresh temporary directory). */
  readonly root: string;
  /** The environment every spawn gets: DATABASE_URL, LETHE_STORAGE, USER. */
  readonly env: Readonly<Record<string, string>>;
  run(args: readonly string[], env?: Readonly<Record<string, string | undefined>>): Promise<CliResult>;
  /** Creates a file under the root, optionally dated `ageMs` in the past. */
  touch(key: string, ageMs?: number): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** Inserts rows with one statement: [id, file_key, purpose, created_at SQL]. */
  insert(rows: readonly (readonly [string, string | null, string | null, string | null])[]): Promise<void>;
  close(): Promise<void>;
}

/** A database with the platform's `jobs` table, Lethe migrated, and an empty storage root. */
export async function createCliFixture(label: string): Promise<CliFixture> {
  const db = await createTestDatabase(`cli_${label}`);
  const root = await mkdtemp(join(tmpdir(), `lethe-cli-${label}-`));
  await createJobsTable(db.pool);
  const engine = createEngine({ databaseUrl: db.url });
  try {
    await engine.migrate();
  } finally {
    await engine.close();
  }
  const env = { DATABASE_URL: db.url, LETHE_STORAGE: `file://${root}`, USER: 'oncall' };
  return {
    db,
    root,
    env,
    run: (args, extra = {}) => lethe(args, { ...env, ...extra }),
    async touch(key, ageMs) {
      const path = join(root, key);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, 'x');
      if (ageMs !== undefined) {
        const when = new Date(Date.now() - ageMs);
        await utimes(path, when, when);
      }
    },
    exists: (key) =>
      stat(join(root, key)).then(
        () => true,
        () => false,
      ),
    async insert(rows) {
      if (rows.length === 0) return;
      const values = rows.map((r, i) => `($${3 * i + 1}, $${3 * i + 2}, $${3 * i + 3}, ${r[3] ?? 'NULL'})`).join(', ');
      await db.pool.query(
        `INSERT INTO jobs (id, file_key, purpose_code, created_at) VALUES ${values}`,
        rows.flatMap((r) => [r[0], r[1], r[2]]),
      );
    },
    async close() {
      await db.drop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
