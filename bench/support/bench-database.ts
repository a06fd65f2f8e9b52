import pg from 'pg';
import { createEngine } from '@lethe/engine';

/** A throwaway database for one benchmark process, on $LETHE_BENCH_DATABASE_URL, $DATABASE_URL or local. */
export interface BenchDatabase {
  readonly name: string;
  readonly url: string;
  readonly pool: pg.Pool;
  drop(): Promise<void>;
}

function adminUrl(): string {
  return process.env.LETHE_BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

async function onAdmin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function connect(name: string): BenchDatabase {
  const u = new URL(adminUrl());
  u.pathname = `/${name}`;
  const url = u.toString();
  const pool = new pg.Pool({ connectionString: url, max: 4, options: '-c TimeZone=UTC' });
  // DROP DATABASE ... WITH (FORCE) terminates idle clients that pool.end() is still closing.
  pool.on('error', () => {});
  return {
    name,
    url,
    pool,
    async drop() {
      await pool.end();
      await onAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

export async function createBenchDatabase(label: string): Promise<BenchDatabase> {
  const name = `lethe_bench_${label}_${process.pid}`;
  await onAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await onAdmin(`CREATE DATABASE ${name}`);
  return connect(name);
}

/** A named database kept between invocations (created when missing): for slow setups while iterating. */
export async function openBenchDatabase(label: string): Promise<BenchDatabase> {
  const name = `lethe_bench_${label}`;
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return connect(name);
}

/** N expired rows (System Testing, two days old) whose keys are `<dir>/<i>.pdf`, 1000 to a directory. */
export async function seedExpiredRows(pool: pg.Pool, n: number, prefix = 'f'): Promise<void> {
  await pool.query(
    `INSERT INTO jobs (id, file_key, status, purpose_code, consent_verified, created_at)
     SELECT '${prefix}' || g, '${prefix}/' || (g / 1000) || '/' || g || '.pdf', 'COMPLETED', 'System Testing', true,
            (now() AT TIME ZONE 'UTC') - interval '2 days'
       FROM generate_series(0, $1 - 1) g`,
    [n],
  );
}

export async function createJobs(pool: pg.Pool): Promise<void> {
  await pool.query(`CREATE TABLE IF NOT EXISTS jobs (id text PRIMARY KEY, file_key text, status text, purpose_code text,
    consent_verified boolean, created_at timestamp without time zone)`);
}

export function keyOf(prefix: string, i: number): string {
  return `${prefix}/${Math.floor(i / 1000)}/${i}.pdf`;
}

/** The platform's `jobs` table (createJobs) and Lethe's schema (`lethe migrate`), as every bench database starts. */
export async function prepareBenchDatabase(db: BenchDatabase): Promise<void> {
  await createJobs(db.pool);
  const migrator = createEngine({ databaseUrl: db.url });
  try {
    await migrator.migrate();
  } finally {
    await migrator.close();
  }
}
