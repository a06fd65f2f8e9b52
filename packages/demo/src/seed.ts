import pg from 'pg';

/** Where seeded documents go: a directory or an S3 bucket (see commands/demo.ts). */
export type DemoSink = (key: string, content: string) => Promise<void>;

/** One seeded group of rows: a purpose, an age, whether it should go, and whether its file exists. */
interface Group {
  readonly purpose: string | null;
  readonly age: string;
  readonly count: number;
  readonly expired: boolean;
  readonly keyPrefix?: string;
  readonly noFile?: boolean;
}

const GROUPS: readonly Group[] = [
  { purpose: 'System Testing', age: '30 hours', count: 30, expired: true },
  { purpose: 'System Testing', age: '2 hours', count: 10, expired: false },
  { purpose: 'General', age: '45 days', count: 20, expired: true },
  { purpose: 'General', age: '29 days', count: 10, expired: false },
  { purpose: 'Financial', age: '13 months', count: 10, expired: true },
  { purpose: 'Financial', age: '11 months', count: 10, expired: false },
  { purpose: 'Legal', age: '7 years 2 days', count: 5, expired: true },
  { purpose: 'Legal', age: '6 years', count: 5, expired: false },
  { purpose: 'Medical', age: '10 years 1 day', count: 3, expired: true },
  { purpose: 'Medical', age: '9 years', count: 5, expired: false },
  { purpose: 'Marketing', age: '20 years', count: 2, expired: false },
  { purpose: 'General', age: '60 days', count: 2, expired: true, noFile: true },
];

export interface SeedResult {
  readonly rows: number;
  readonly files: number;
  readonly expired: number;
}

/** Creates the platform's `jobs` table (naive UTC timestamps, as the old service wrote) and files. */
export async function seedDemo(url: string, sink: DemoSink, scale: number): Promise<SeedResult> {
  const client = new pg.Client({ connectionString: url, options: '-c TimeZone=UTC' });
  await client.connect();
  try {
    await client.query(`CREATE TABLE jobs (id text PRIMARY KEY, file_key text, status text, purpose_code text,
      consent_verified boolean, created_at timestamp without time zone)`);
    let rows = 0;
    let files = 0;
    let expired = 0;
    for (const [g, group] of GROUPS.entries()) {
      const count = group.count * scale;
      const keys: string[] = [];
      for (let i = 0; i < count; i++) keys.push(`${(group.purpose ?? 'none').toLowerCase().replace(/\s+/g, '-')}/${g}-${i}.pdf`);
      await client.query(
        `INSERT INTO jobs (id, file_key, status, purpose_code, consent_verified, created_at)
         SELECT 'job-' || $4::int || '-' || k.i, k.key, 'COMPLETED', $1, true, (now() AT TIME ZONE 'UTC') - $2::interval
           FROM unnest($3::text[]) WITH ORDINALITY AS k(key, i)`,
        [group.purpose, group.age, keys, g],
      );
      if (!group.noFile) {
        for (const key of keys) await sink(key, `demo document ${key}\n`);
        files += keys.length;
      }
      rows += count;
      if (group.expired) expired += count;
    }
    // A key that tries to leave the storage root: refused and reported, never touched.
    await client.query(
      `INSERT INTO jobs VALUES ('job-escape', '../outside.pdf', 'COMPLETED', 'General', true, (now() AT TIME ZONE 'UTC') - interval '90 days')`,
    );
    return { rows: rows + 1, files, expired };
  } finally {
    await client.end();
  }
}
