import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, pause, resume, silentLogger, type Engine } from '@lethe/engine';
import { createBackgroundRuns, type BackgroundRuns } from '@lethe/http';
import { createJobsTable, createTestDatabase, insertJobs, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';
import { promtool, runPromtool } from './promtool.js';
import { beat, inject, startService, type Running } from './support.js';

const UTC_NOW = `(now() AT TIME ZONE 'UTC')`;
const TOKEN = 'metrics-token';
let db: TestDatabase;
let files: TempRoot;
let engine: Engine;
let runs: BackgroundRuns;
let live: Running;
let cached: Running;

/** The value of one sample line, e.g. `lethe_paused` or `lethe_backlog_expired_rows{purpose="General"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const scrape = async (r: Running): Promise<string> => {
  const a = await inject(r.service, '/metrics');
  expect(a.status).toBe(200);
  expect(a.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return a.text;
};

beforeAll(async () => {
  db = await createTestDatabase('http_metrics');
  files = await createTempRoot('http-metrics');
  await createJobsTable(db.pool);
  engine = createEngine({ pool: db.pool, storage: `file://${files.root}`, threads: 1 });
  await engine.migrate();
  await insertJobs(db.pool, [
    { id: 'g-1', fileKey: 'm/g-1.pdf', purpose: 'General', createdAtSql: `${UTC_NOW} - interval '31 days'` },
    { id: 'st-1', fileKey: 'm/st-1.pdf', purpose: 'System Testing', createdAtSql: `${UTC_NOW} - interval '2 days'` },
    { id: 'st-2', fileKey: 'm/st-2.pdf', purpose: 'System Testing', createdAtSql: `${UTC_NOW} - interval '3 days'` },
    { id: 'fin', fileKey: 'm/fin.pdf', purpose: 'Financial', createdAtSql: `${UTC_NOW} - interval '3 days'` },
  ]);
  for (const k of ['m/g-1.pdf', 'm/st-1.pdf', 'm/fin.pdf']) await files.put(k);
  let observe: Running['service']['observeRun'] = () => {};
  runs = createBackgroundRuns(engine, { logger: silentLogger, onFinished: (s) => observe(s) });
  live = await startService({
    pool: db.pool,
    logger: silentLogger,
    version: '1.2.3-test',
    engine,
    adminToken: TOKEN,
    triggerRun: runs.triggerRun,
    metricsCacheMs: 0,
    backlogCacheMs: 0,
  });
  observe = (s) => live.service.observeRun(s);
  cached = await startService({ pool: db.pool, logger: silentLogger, version: 'test', metricsCacheMs: 60_000, backlogCacheMs: 60_000 });
});

afterAll(async () => {
  await runs?.idle();
  await live?.close();
  await cached?.close();
  await engine?.close();
  await files?.remove();
  await db?.drop();
});

describe('GET /metrics', () => {
  it('exposes process metrics, build info and the database gauges before any run', async () => {
    const text = await scrape(live);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds'])
      expect(text).toMatch(new RegExp(`^${name} `, 'm'));
    expect(sample(text, 'lethe_build_info{version="1.2.3-test"}')).toBe(1);
    expect(sample(text, 'lethe_database_up')).toBe(1);
    expect(sample(text, 'lethe_paused')).toBe(0);
    expect(sample(text, 'lethe_last_run_timestamp_seconds')).toBe(0);
    expect(sample(text, 'lethe_health_status{status="unhealthy"}')).toBe(1);
    // The backlog: expired rows still in the table, per purpose with a policy.
    expect(sample(text, 'lethe_backlog_expired_rows{purpose="General"}')).toBe(1);
    expect(sample(text, 'lethe_backlog_expired_rows{purpose="System Testing"}')).toBe(2);
    expect(sample(text, 'lethe_backlog_expired_rows{purpose="Financial"}')).toBe(0);
    // Counter series exist at 0 from the start, so increase() sees the first run.
    expect(sample(text, 'lethe_files_deleted_total{purpose="General",outcome="erased"}')).toBe(0);
  });

  it('counts a finished run (observeRun) and shows the last run, next run and pause from the database', async () => {
    await beat(db.pool, { nextRunInMs: 3_600_000 });
    const t = await inject(live.service, '/api/admin/cleanup/runs', { token: TOKEN, body: {} });
    expect(t.status).toBe(202);
    await runs.idle();
    const text = await scrape(live);
    expect(sample(text, 'lethe_files_deleted_total{purpose="General",outcome="erased"}')).toBe(1);
    expect(sample(text, 'lethe_files_deleted_total{purpose="System Testing",outcome="erased"}')).toBe(1);
    expect(sample(text, 'lethe_files_deleted_total{purpose="System Testing",outcome="absent"}')).toBe(1);
    expect(sample(text, 'lethe_files_failed_total{purpose="General"}')).toBe(0);
    expect(sample(text, 'lethe_runs_total{status="completed",dry_run="false"}')).toBe(1);
    expect(sample(text, 'lethe_run_duration_seconds_count')).toBe(1);
    expect(sample(text, 'lethe_backlog_expired_rows{purpose="System Testing"}')).toBe(0);
    expect(sample(text, 'lethe_last_run_deleted_files')).toBe(3);
    expect(sample(text, 'lethe_deleted_last_24h')).toBe(3);
    expect(sample(text, 'lethe_failure_ratio_last_24h')).toBe(0);
    expect(sample(text, 'lethe_last_run_deletes_per_second')).toBeGreaterThan(0);
    expect(sample(text, 'lethe_health_status{status="healthy"}')).toBe(1);
    const nowS = Date.now() / 1000;
    expect(sample(text, 'lethe_last_run_timestamp_seconds')).toBeGreaterThan(nowS - 60);
    expect(sample(text, 'lethe_last_success_timestamp_seconds')).toBeGreaterThan(nowS - 60);
    expect(sample(text, 'lethe_next_run_timestamp_seconds')).toBeGreaterThan(nowS);
    expect(sample(text, 'lethe_schedulers_alive')).toBe(1);

    await pause(db.pool, { by: 'test', reason: 'metrics' });
    expect(sample(await scrape(live), 'lethe_paused')).toBe(1);
    await resume(db.pool, { by: 'test' });
    expect(sample(await scrape(live), 'lethe_paused')).toBe(0);

    // A detected restore (the journal ahead of the ledger; docs/safety.md#erasures-survive-a-backup-restore) until a replay clears it.
    expect(sample(await scrape(live), 'lethe_restore_detected')).toBe(0);
    const { rows } = await db.pool.query<{ id: string }>(`INSERT INTO lethe_journal_restores (objects, entries) VALUES (1, 2) RETURNING id::text`);
    expect(sample(await scrape(live), 'lethe_restore_detected')).toBe(1);
    await db.pool.query(`UPDATE lethe_journal_restores SET cleared_at = now() WHERE id = $1`, [rows[0]!.id]);
    expect(sample(await scrape(live), 'lethe_restore_detected')).toBe(0);
  });

  it('caches the database gauges: a standalone service shows state, refreshed only after its cache time', async () => {
    const text = await scrape(cached);
    const before = sample(text, 'lethe_backlog_expired_rows{purpose="General"}');
    expect(sample(text, 'lethe_last_run_deleted_files')).toBe(3);
    await insertJobs(db.pool, [{ id: 'g-2', fileKey: 'm/g-2.pdf', purpose: 'General', createdAtSql: `${UTC_NOW} - interval '40 days'` }]);
    expect(sample(await scrape(cached), 'lethe_backlog_expired_rows{purpose="General"}')).toBe(before);
    expect(sample(await scrape(live), 'lethe_backlog_expired_rows{purpose="General"}')).toBe((before ?? 0) + 1);
    // No run finished in this service's process, yet its counters show the run: they come from lethe_runs.
    expect(sample(await scrape(cached), 'lethe_run_duration_seconds_count')).toBe(1);
    expect(sample(await scrape(cached), 'lethe_files_deleted_total{purpose="General",outcome="erased"}')).toBe(1);
  });

  it('counts runs done by any process (another engine: `lethe run`, the CronJob), each once, on every service', async () => {
    const standalone = await startService({ pool: db.pool, logger: silentLogger, version: 'test', metricsCacheMs: 0, backlogCacheMs: 0 });
    const other = createEngine({ pool: db.pool, storage: `file://${files.root}`, threads: 1 });
    try {
      const before = await scrape(standalone);
      const generalBefore = sample(before, 'lethe_files_deleted_total{purpose="General",outcome="erased"}') ?? 0;
      const runsBefore = sample(before, 'lethe_runs_total{status="completed",dry_run="false"}') ?? 0;
      await files.put('m/g-2.pdf'); // g-2 (General, 40 days old) was inserted above without its file
      await files.put('m/g-3.pdf');
      await insertJobs(db.pool, [{ id: 'g-3', fileKey: 'm/g-3.pdf', purpose: 'General', createdAtSql: `${UTC_NOW} - interval '35 days'` }]);
      expect(await other.run()).toMatchObject({ status: 'completed', erased_count: 2 });
      for (const s of [standalone, live]) {
        const text = await scrape(s);
        expect(sample(text, 'lethe_files_deleted_total{purpose="General",outcome="erased"}')).toBe(generalBefore + 2);
        expect(sample(text, 'lethe_runs_total{status="completed",dry_run="false"}')).toBe(runsBefore + 1);
      }
      // Scraped again: each run is counted once.
      expect(sample(await scrape(standalone), 'lethe_files_deleted_total{purpose="General",outcome="erased"}')).toBe(generalBefore + 2);
      expect(sample(await scrape(standalone), 'lethe_run_duration_seconds_count')).toBe(2);
      // A run whose process died has no summary: its ledger rows count.
      await db.pool.query(
        `INSERT INTO lethe_runs (id, trigger, status, started_at, ended_at) VALUES ('00000000-0000-4000-8000-00000000dead', 'manual', 'interrupted', now() - interval '1 minute', now())`,
      );
      await db.pool.query(`INSERT INTO lethe_ledger (run_id, job_id, file_key, purpose_code, outcome) VALUES
        ('00000000-0000-4000-8000-00000000dead', 'd-1', 'm/d-1.pdf', 'Financial', 'erased'), ('00000000-0000-4000-8000-00000000dead', 'd-2', 'm/d-2.pdf', 'Financial', 'failed')`);
      const text = await scrape(standalone);
      expect(sample(text, 'lethe_files_deleted_total{purpose="Financial",outcome="erased"}')).toBe(1);
      expect(sample(text, 'lethe_files_failed_total{purpose="Financial"}')).toBe(1);
      expect(sample(text, 'lethe_runs_total{status="interrupted",dry_run="false"}')).toBe(1);
    } finally {
      await other.close();
      await standalone.close();
    }
  });

  it('still answers without its database, with lethe_database_up 0', async () => {
    const dead = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/none', connectionTimeoutMillis: 2000 });
    dead.on('error', () => {});
    const s = await startService({ pool: dead, logger: silentLogger, version: 'test' });
    try {
      const text = await scrape(s);
      expect(sample(text, 'lethe_database_up')).toBe(0);
      expect(text).toMatch(/^process_cpu_seconds_total /m);
    } finally {
      await s.close();
      await dead.end();
    }
  });

  it.skipIf(!promtool)('passes promtool check metrics', async () => {
    const text = await scrape(live);
    const r = runPromtool(['check', 'metrics'], text);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });
});
