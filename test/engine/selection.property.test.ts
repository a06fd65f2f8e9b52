import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, DEFAULT_POLICIES, inspectJobsTable, isCalendarRetention, retentionToInterval, type Retention } from '@lethe/engine';
import { readExpiredRows } from '@lethe/engine/testing';
import pg from 'pg';

const PgPool = pg.Pool;
import { createTestDatabase, type TestDatabase } from '../support/database.js';

/**
 * Invariant 1 (nothing unexpired is selected, every expired row with a known purpose is) and
 * invariant 2 (naive timestamps are UTC), checked against an oracle written independently in JS:
 * PostgreSQL's interval addition (months clamp to the last day of the month) for calendar units.
 */
/** Cutoffs next to month ends and leap days, where calendar arithmetic clamps. */
const CUTOFFS = [
  Date.UTC(2025, 2, 1, 2, 0, 0, 123),
  Date.UTC(2025, 1, 28, 2, 0, 0, 0),
  Date.UTC(2024, 1, 29, 12, 0, 0, 0),
  Date.UTC(2025, 11, 31, 23, 59, 59, 999),
];
const PURPOSES = [...Object.keys(DEFAULT_POLICIES), 'Marketing', null] as const;

function shiftMonths(ms: number, months: number): number {
  const d = new Date(ms);
  const total = d.getUTCMonth() + months;
  const year = d.getUTCFullYear() + Math.floor(total / 12);
  const month = ((total % 12) + 12) % 12;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return Date.UTC(year, month, Math.min(d.getUTCDate(), lastDay), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
}

/** PostgreSQL's `timestamp + interval` in UTC: months and years clamp to the month's last day. */
function addRetention(ms: number, r: Retention, sign = 1): number {
  if (r.unit === 'hour') return ms + sign * r.amount * 3_600_000;
  if (r.unit === 'day') return ms + sign * r.amount * 86_400_000;
  if (r.unit === 'week') return ms + sign * r.amount * 7 * 86_400_000;
  return shiftMonths(ms, sign * (r.unit === 'year' ? r.amount * 12 : r.amount));
}

function expectedIds(rows: readonly Row[], cutoffMs: number): string[] {
  return rows
    .filter(
      (r) => r.purpose !== null && r.purpose in DEFAULT_POLICIES && r.createdMs !== null && addRetention(r.createdMs, DEFAULT_POLICIES[r.purpose]!) < cutoffMs,
    )
    .map((r) => r.id)
    .sort();
}

interface Row {
  readonly id: string;
  readonly purpose: string | null;
  readonly createdMs: number | null;
}

type Spec = { kind: 'null' } | { kind: 'uniform'; ms: number } | { kind: 'boundary'; offsetMs: number } | { kind: 'leap'; year: number; hour: number };

const specArb: fc.Arbitrary<Spec> = fc.oneof(
  fc.constant<Spec>({ kind: 'null' }),
  fc.integer({ min: -12 * 366 * 86_400_000, max: 86_400_000 }).map((ms): Spec => ({ kind: 'uniform', ms })),
  fc
    .oneof(fc.constantFrom(0, 1, -1, 3_600_000, -3_600_000), fc.integer({ min: -3 * 86_400_000, max: 3 * 86_400_000 }))
    .map((offsetMs): Spec => ({ kind: 'boundary', offsetMs })),
  fc.record({ year: fc.constantFrom(2008, 2012, 2016, 2020, 2024), hour: fc.integer({ min: 0, max: 23 }) }).map((l): Spec => ({ kind: 'leap', ...l })),
);

/** Created times on each row's own purpose boundary (exactly, a millisecond either side, days around), on leap days, and anywhere. */
const caseArb = fc
  .record({
    cutoffMs: fc.constantFrom(...CUTOFFS),
    specs: fc.array(fc.record({ purpose: fc.constantFrom(...PURPOSES), spec: specArb }), { maxLength: 40 }),
  })
  .map(({ cutoffMs, specs }) => ({
    cutoffMs,
    rows: specs.map(({ purpose, spec }, i): Row => {
      const policy = purpose === null ? undefined : DEFAULT_POLICIES[purpose];
      const createdMs =
        spec.kind === 'null'
          ? null
          : spec.kind === 'uniform'
            ? cutoffMs + spec.ms
            : spec.kind === 'leap'
              ? Date.UTC(spec.year, 1, 29, spec.hour)
              : (policy ? addRetention(cutoffMs, policy, -1) : cutoffMs) + spec.offsetMs;
      return { id: `r${i}`, purpose, createdMs };
    }),
  }));

function pgText(ms: number, zone: boolean): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace('Z', zone ? '+00' : '');
}

let db: TestDatabase;
let lethePool: pg.Pool;
let kolkataPool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase('selection');
  for (const [table, type] of [
    ['jobs_naive', 'timestamp without time zone'],
    ['jobs_tz', 'timestamptz'],
  ] as const) {
    await db.pool.query(`CREATE TABLE ${table} (id text PRIMARY KEY, file_key text, purpose_code text, created_at ${type})`);
    await db.pool.query(`CREATE INDEX ON ${table} (purpose_code, created_at)`);
  }
  lethePool = createPool(db.url, 4);
  // A session in IST: the comparison must not depend on the session time zone for naive columns.
  kolkataPool = new PgPool({ connectionString: db.url, max: 2, options: '-c TimeZone=Asia/Kolkata' });
});

afterAll(async () => {
  await lethePool.end();
  await kolkataPool.end();
  await db.drop();
});

async function select(pool: pg.Pool, table: string, cutoffMs: number): Promise<{ id: string; expiresAtMs: number; purpose: string }[]> {
  const t = await inspectJobsTable(pool, { table, id: 'id', fileKey: 'file_key', purpose: 'purpose_code', createdAt: 'created_at' });
  const purposes = Object.entries(DEFAULT_POLICIES).map(([purpose, r]) => ({ purpose, interval: retentionToInterval(r), calendar: isCalendarRetention(r) }));
  const out: { id: string; expiresAtMs: number; purpose: string }[] = [];
  for await (const batch of readExpiredRows(pool, { table: t, purposes, cutoff: new Date(cutoffMs).toISOString(), batchSize: 7 })) {
    for (const r of batch) out.push({ id: r.id, expiresAtMs: r.expiresAtMs, purpose: r.purpose });
  }
  return out;
}

describe('expired-row selection (property)', () => {
  it.each([
    ['jobs_naive', false],
    ['jobs_tz', true],
  ] as const)('%s: selects exactly the expired rows, with their expiry, whatever the boundaries', async (table, zone) => {
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ cutoffMs, rows }) => {
        await db.pool.query(`TRUNCATE ${table}`);
        if (rows.length > 0) {
          await db.pool.query(
            `INSERT INTO ${table} (id, file_key, purpose_code, created_at) SELECT * FROM unnest($1::text[], $1::text[], $2::text[], $3::text[]::${zone ? 'timestamptz' : 'timestamp'}[])`,
            [rows.map((r) => r.id), rows.map((r) => r.purpose), rows.map((r) => (r.createdMs === null ? null : pgText(r.createdMs, zone)))],
          );
        }
        const got = await select(lethePool, table, cutoffMs);
        expect(got.map((g) => g.id).sort()).toEqual(expectedIds(rows, cutoffMs));
        for (const g of got) {
          const row = rows.find((r) => r.id === g.id)!;
          expect(g.purpose).toBe(row.purpose);
          expect(g.expiresAtMs).toBe(addRetention(row.createdMs!, DEFAULT_POLICIES[row.purpose!]!));
          expect(g.expiresAtMs).toBeLessThan(cutoffMs);
        }
        if (!zone) expect((await select(kolkataPool, table, cutoffMs)).map((g) => g.id).sort()).toEqual(expectedIds(rows, cutoffMs));
      }),
      { numRuns: 80 },
    );
  });

  it('uses the (purpose_code, created_at) index: its cost follows the expired rows, not the table', async () => {
    await db.pool.query('TRUNCATE jobs_naive');
    await db.pool.query(`INSERT INTO jobs_naive SELECT 'n' || g, 'k' || g, 'General', now() AT TIME ZONE 'UTC' FROM generate_series(1, 20000) g`);
    await db.pool.query('ANALYZE jobs_naive');
    const t = await inspectJobsTable(lethePool, { table: 'jobs_naive', id: 'id', fileKey: 'file_key', purpose: 'purpose_code', createdAt: 'created_at' });
    const { expiredRowsSql } = await import('@lethe/engine/testing');
    const plan = await lethePool.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN ${expiredRowsSql(t)
        .replace(/\$1/g, `'General'`)
        .replace(/\$2/g, `'30 days'`)
        .replace(/\$3/g, `'${new Date(CUTOFFS[0]!).toISOString()}'`)
        .replace(/\$4/g, `'0'`)}`,
    );
    expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/Index (Only )?Scan|Bitmap Index Scan/);
  });
});
