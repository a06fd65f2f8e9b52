import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, createPool, inspectJobsTable, utcConnectionConfig, type PurposeSelection } from '@lethe/engine';
import { readExpiredRows } from '@lethe/engine/testing';
import { createJobsTable, createTestDatabase, insertJobs, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';

/**
 * A DATABASE_URL carrying its own `?options=-c TimeZone=...` once replaced Lethe's `TimeZone=UTC`
 * startup option, and a calendar retention on a timestamptz column was added in that zone: a row
 * went 30 minutes early (DESIGN "Time"). Every connection Lethe makes must be UTC whatever the URL.
 */
let db: TestDatabase;
let files: TempRoot;

const withOptions = (url: string, options: string): string => `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(options)}`;
const KOLKATA = '-c TimeZone=Asia/Kolkata';
const ST_JOHNS = '-c TimeZone=America/St_Johns';

beforeAll(async () => {
  db = await createTestDatabase('session_tz');
  files = await createTempRoot('session-tz');
  await createJobsTable(db.pool, { createdAt: 'timestamptz' });
  await createJobsTable(db.pool, { createdAt: 'timestamptz', table: 'jobs_fixed' });
});

afterAll(async () => {
  await db.drop();
  await files.remove();
});

async function zoneOf(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ tz: string }>(`SELECT current_setting('TimeZone') AS tz`);
  return rows[0]!.tz;
}

describe('the session time zone is UTC whatever DATABASE_URL says', () => {
  it.each([KOLKATA, ST_JOHNS])("a pool from a URL with options=%s reports UTC on every connection, and keeps the URL's other options", async (zone) => {
    const url = withOptions(db.url, `${zone} -c statement_timeout=4321`);
    expect(url).toContain('options=-c%20TimeZone%3D');
    // The control: pg alone lets the URL's options win.
    const plain = new pg.Pool({ connectionString: url, max: 1, options: '-c TimeZone=UTC' });
    try {
      expect(await zoneOf(plain)).not.toBe('UTC');
    } finally {
      await plain.end();
    }
    // The merge alone already gives UTC (the last -c wins), without the connect check.
    const merged = new pg.Pool({ ...utcConnectionConfig(url), max: 1 });
    try {
      expect(await zoneOf(merged)).toBe('UTC');
    } finally {
      await merged.end();
    }
    const pool = createPool(url, 3);
    try {
      const clients = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
      try {
        const answers = await Promise.all(
          clients.map((c) => c.query<{ tz: string; st: string }>(`SELECT current_setting('TimeZone') AS tz, current_setting('statement_timeout') AS st`)),
        );
        expect(answers.map((a) => a.rows[0])).toEqual([1, 2, 3].map(() => ({ tz: 'UTC', st: '4321ms' })));
      } finally {
        for (const c of clients) c.release();
      }
    } finally {
      await pool.end();
    }
  });

  // Cutoffs fixed where the zone changes the arithmetic: St. John's springs forward on 2025-03-09
  // (so "+ 30 days" there is an hour short), and IST's date is a day ahead at 20:00 UTC (so
  // "+ 1 month" from Jan 30 lands on Feb 27 20:00 UTC instead of Feb 28 20:00).
  it.each([
    {
      zone: ST_JOHNS,
      purpose: { purpose: 'General', interval: '30 days', calendar: false },
      cutoff: '2025-04-01T00:00:00.000Z',
      expired: '2025-03-01 23:59:00+00', // expires 2025-03-31 23:59 UTC
      notYet: '2025-03-02 00:30:00+00', // expires 2025-04-01 00:30 UTC; in St. John's arithmetic 30 minutes before the cutoff
    },
    {
      zone: KOLKATA,
      purpose: { purpose: 'General', interval: '1 month', calendar: true },
      cutoff: '2025-02-28T12:00:00.000Z',
      expired: '2025-01-28 11:00:00+00', // expires 2025-02-28 11:00 UTC
      notYet: '2025-01-30 20:00:00+00', // expires 2025-02-28 20:00 UTC; in IST arithmetic on Feb 27
    },
  ])('$zone: a calendar retention on timestamptz selects only the truly expired row at $cutoff', async ({ zone, purpose, cutoff, expired, notYet }) => {
    await db.pool.query('TRUNCATE jobs_fixed');
    await insertJobs(
      db.pool,
      [
        { id: 'expired', fileKey: 'expired.pdf', purpose: purpose.purpose, createdAtSql: `'${expired}'::timestamptz` },
        { id: 'not-yet', fileKey: 'not-yet.pdf', purpose: purpose.purpose, createdAtSql: `'${notYet}'::timestamptz` },
      ],
      'jobs_fixed',
    );
    const pool = createPool(withOptions(db.url, zone), 2);
    try {
      const table = await inspectJobsTable(pool, { table: 'jobs_fixed', id: 'id', fileKey: 'file_key', purpose: 'purpose_code', createdAt: 'created_at' });
      const ids: string[] = [];
      const purposes: PurposeSelection[] = [purpose];
      for await (const batch of readExpiredRows(pool, { table, purposes, cutoff, batchSize: 10 })) ids.push(...batch.map((r) => r.id));
      expect(ids).toEqual(['expired']);
    } finally {
      await pool.end();
    }
  });

  it('a run from a DATABASE_URL in a zone that sprang forward 10 days ago deletes only the truly expired General row', async () => {
    // The database clock sets the cutoff, so the zone is built around today: a POSIX zone like
    // St. John's (-03:30, then -02:30 from a day 10 days ago) makes "+ 30 days" an hour short.
    const url = withOptions(db.url, `-c TimeZone=${springForwardZone(Date.now() - 10 * 86_400_000)}`);
    const probe = new pg.Pool({ connectionString: url, max: 1 });
    try {
      const early = await probe.query<{ early: boolean }>(
        `SELECT ((now() AT TIME ZONE 'UTC' - interval '30 days' + interval '30 minutes') AT TIME ZONE 'UTC') + interval '30 days' < now() AS early`,
      );
      // The bug it guards against: in this zone's arithmetic the not-yet row below counts as expired.
      expect(early.rows[0]!.early).toBe(true);
    } finally {
      await probe.end();
    }
    const utc = `(now() AT TIME ZONE 'UTC')`;
    await insertJobs(db.pool, [
      { id: 'expired', fileKey: 'g/expired.pdf', purpose: 'General', createdAtSql: `(${utc} - interval '30 days' - interval '30 minutes') AT TIME ZONE 'UTC'` },
      { id: 'not-yet', fileKey: 'g/not-yet.pdf', purpose: 'General', createdAtSql: `(${utc} - interval '30 days' + interval '30 minutes') AT TIME ZONE 'UTC'` },
    ]);
    await files.put('g/expired.pdf');
    await files.put('g/not-yet.pdf');
    const engine = createEngine({ databaseUrl: url, storage: `file://${files.root}`, threads: 1 });
    try {
      await engine.migrate();
      const summary = await engine.run();
      expect(summary.error).toBeNull();
      expect({ deleted: summary.deleted_count, erased: summary.erased_count }).toEqual({ deleted: 1, erased: 1 });
    } finally {
      await engine.close();
    }
    expect(await files.exists('g/expired.pdf')).toBe(false);
    expect(await files.exists('g/not-yet.pdf')).toBe(true);
    expect((await db.pool.query<{ id: string }>('SELECT id FROM jobs ORDER BY id')).rows).toEqual([{ id: 'not-yet' }]);
  });
});

/** A POSIX zone at -03:30 that moves to -02:30 at 02:00 local on `startMs`'s day, and back 150 days later. */
function springForwardZone(startMs: number): string {
  const julian = (ms: number): number => {
    // POSIX "Jn" counts 1-365 and never counts Feb 29.
    const d = new Date(ms);
    const y = d.getUTCFullYear();
    const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
    const day = Math.floor((Date.UTC(y, d.getUTCMonth(), d.getUTCDate()) - Date.UTC(y, 0, 1)) / 86_400_000) + 1;
    return leap && d.getUTCMonth() > 1 ? day - 1 : Math.min(day, 365);
  };
  return `<-0330>+03:30<-0230>,J${julian(startMs)}/2,J${julian(startMs + 150 * 86_400_000)}/2`;
}
