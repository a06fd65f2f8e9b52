import pg from 'pg';

/** A throwaway database for one benchmark process, on $LETHE_BENCH_DATABASE_URL, $DATABASE_URL or local. */
export interface BenchDatabase {
  readonly url: string;
  readonly pool: pg.Pool;
  drop(): Promise<void>;
}

export async function createBenchDatabase(label: string): Promise<BenchDatabase> {
  const admin = process.env.LETHE_BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `lethe_bench_${label}_${process.pid}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const u = new URL(admin);
  u.pathname = `/${name}`;
  const url = u.toString();
  const pool = new pg.Pool({ connectionString: url, max: 4, options: '-c TimeZone=UTC' });
  return {
    url,
    pool,
    async drop() {
      await pool.end();
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
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
