import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine } from '@lethe/engine';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';

export interface DaemonFixture {
  readonly db: TestDatabase;
  /** The storage root (real files). */
  readonly root: string;
  /** DATABASE_URL and LETHE_STORAGE for spawned processes. */
  readonly env: Record<string, string>;
  cleanup(keepDatabase?: boolean): Promise<void>;
}

/** A fresh database with the platform's jobs table, migrated by Lethe, and a storage directory. */
export async function createDaemonFixture(label: string): Promise<DaemonFixture> {
  const db = await createTestDatabase(label);
  const root = await mkdtemp(join(tmpdir(), `lethe-${label}-`));
  await createJobsTable(db.pool);
  const engine = createEngine({ databaseUrl: db.url });
  try {
    await engine.migrate();
  } finally {
    await engine.close();
  }
  return {
    db,
    root,
    env: { DATABASE_URL: db.url, LETHE_STORAGE: `file://${root}` },
    async cleanup(keepDatabase = false) {
      await db.drop(keepDatabase);
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** `count` expired System Testing rows (2 days old, retention 24 h), each with its own file `e/<n>.pdf`. */
export async function seedExpired(f: DaemonFixture, count: number, prefix = 'e'): Promise<string[]> {
  await f.db.pool.query(
    `INSERT INTO jobs (id, file_key, purpose_code, created_at)
     SELECT $1 || '-' || g, $1 || '/' || g || '.pdf', 'System Testing', (now() AT TIME ZONE 'UTC') - interval '2 days'
       FROM generate_series(1, $2::int) g`,
    [prefix, count],
  );
  await mkdir(join(f.root, prefix), { recursive: true });
  const keys = Array.from({ length: count }, (_, i) => `${prefix}/${i + 1}.pdf`);
  for (let i = 0; i < keys.length; i += 200) {
    await Promise.all(keys.slice(i, i + 200).map((k) => writeFile(join(f.root, k), 'x')));
  }
  return keys;
}
