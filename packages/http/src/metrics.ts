import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { type JobsTable, type RunSummary } from '@lethe/engine';
import {
  currentRun,
  evaluateHealth,
  finishedRunsSince,
  gatherHealthFacts,
  type FinishedRunCounts,
  type HealthFacts,
  type RunRecord,
} from '@lethe/engine/operations';
import { countBacklog, type BacklogCount } from './backlog.js';
import type { ResolvedHttpOptions } from './options.js';

/** Backlog counting stops here per purpose: a scrape stays cheap even with a huge backlog. */
export const BACKLOG_CAP = 1_000_000;

/** How long a scrape waits for the database gauges before answering with the last values. */
const REFRESH_WAIT_MS = 5_000;

const HEALTH_STATES = ['healthy', 'degraded', 'unhealthy'] as const;
const DELETED_OUTCOMES = ['erased', 'absent'] as const;
const RUN_END_STATES = ['completed', 'failed', 'paused', 'interrupted'] as const;
/** Runs are read again from a little before the last end seen: a run's final UPDATE may commit late. */
const RUN_REREAD_MARGIN_MS = 10 * 60_000;

/**
 * Prometheus metrics, on a registry of our own (never prom-client's global one, so two services in
 * one process, as in tests, do not collide). Everything Lethe-specific comes from the database at
 * scrape time, with a short cache, so every replica and a standalone `lethe serve` show the same
 * truth whoever ran the deletes (the daemon, `lethe run`, the CronJob):
 * - counters and the duration histogram: cumulative totals over every finished run in lethe_runs
 *   (the summaries' by_purpose, never the ledger, which can be huge), read incrementally: each
 *   refresh reads only runs ended since the last one seen, each run id counted once;
 * - gauges: last/next run, pause state, 24 h figures, backlog.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly #o: ResolvedHttpOptions;
  readonly #jobsTable: () => Promise<JobsTable>;
  readonly #g: ReturnType<typeof createGauges>;
  readonly #c: ReturnType<typeof createRunMetrics>;
  #stateAt = Number.NEGATIVE_INFINITY;
  #backlogAt = Number.NEGATIVE_INFINITY;
  #refreshing: Promise<void> | null = null;
  readonly #knownPurposes = new Set<string>();
  /** Run ids already added to the counters (kept for the process's life: a few bytes a run). */
  readonly #countedRuns = new Set<string>();
  /** The latest ended_at counted (ms), or null before the first read. */
  #countedUntilMs: number | null = null;

  constructor(o: ResolvedHttpOptions, jobsTable: () => Promise<JobsTable>) {
    this.#o = o;
    this.#jobsTable = jobsTable;
    collectDefaultMetrics({ register: this.registry });
    // prom-client names three gauges `*_total`, which `promtool check metrics` rejects (a suffix
    // reserved for counters); the same figures stay available, by type, without the suffix.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
    this.#g = createGauges(this.registry);
    this.#c = createRunMetrics(this.registry);
    for (const status of RUN_END_STATES) for (const dryRun of ['false', 'true']) this.#c.runs.inc({ status, dry_run: dryRun }, 0);
    new Gauge({ name: 'lethe_build_info', help: 'Lethe build information (always 1).', labelNames: ['version'], registers: [this.registry] }).set(
      { version: o.version },
      1,
    );
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * A run finished in this process: the database figures change with it, so the next scrape reads
   * them again. The counters come from lethe_runs like any other process's run (counted once).
   */
  observeRun(_s: RunSummary): void {
    this.#stateAt = Number.NEGATIVE_INFINITY;
  }

  /**
   * A slow database must not make the scrape time out (Prometheus gives up after 10 s by default):
   * past `REFRESH_WAIT_MS` the last values are served and the refresh finishes in the background.
   */
  async render(): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.#g.databaseUp.set(0);
        resolve();
      }, REFRESH_WAIT_MS);
    });
    try {
      await Promise.race([this.refresh(), late]);
    } finally {
      clearTimeout(timer);
    }
    return this.registry.metrics();
  }

  /** Refreshes the database gauges when their cache is stale; concurrent scrapes share one refresh. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refreshStale().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  async #refreshStale(): Promise<void> {
    const t = performance.now();
    await Promise.all([
      t - this.#stateAt >= this.#o.metricsCacheMs ? this.#refreshState() : null,
      t - this.#backlogAt >= this.#o.backlogCacheMs ? this.#refreshBacklog() : null,
    ]);
  }

  async #refreshState(): Promise<void> {
    const g = this.#g;
    let facts: HealthFacts;
    let running: RunRecord | null;
    try {
      const jobs = await this.#jobsTable().catch(() => null);
      [facts, running] = await Promise.all([
        gatherHealthFacts(this.#o.pool, this.#o.now(), this.#o.staleAfterMs, jobs),
        currentRun(this.#o.pool),
        this.#countNewRuns(),
      ]);
    } catch (error) {
      g.databaseUp.set(0);
      this.#o.logger.warn({ err: error }, 'metrics: could not read state from the database; its gauges keep their last values');
      return;
    }
    this.#stateAt = performance.now();
    g.databaseUp.set(1);
    const h = evaluateHealth(facts, this.#o.health);
    for (const s of HEALTH_STATES) g.health.set({ status: s }, h.status === s ? 1 : 0);
    g.lastRun.set(seconds(h.last_run));
    g.lastSuccess.set(seconds(h.last_success));
    g.nextRun.set(seconds(h.next_run));
    g.paused.set(h.paused ? 1 : 0);
    g.restoreDetected.set(h.restore_detected ? 1 : 0);
    g.runInProgress.set(running ? 1 : 0);
    g.schedulers.set(h.schedulers);
    g.deleted24h.set(h.deleted_last_24h);
    g.failed24h.set(h.failed_last_24h);
    g.erasuresOverdue.set(facts.overdueRequests ?? 0);
    const attempted = h.deleted_last_24h + h.failed_last_24h;
    g.failureRatio24h.set(attempted === 0 ? 0 : h.failed_last_24h / attempted);
    const last = facts.lastRun;
    g.lastDuration.set(last?.durationSeconds ?? 0);
    g.lastDeleted.set(last?.deleted ?? 0);
    g.lastFailed.set(last?.failed ?? 0);
    const d = last?.durationSeconds ?? 0;
    g.lastRate.set(d > 0 ? (last?.deleted ?? 0) / d : 0);
  }

  /** Adds the runs that finished since the last read (any process) to the counters, each once. */
  async #countNewRuns(): Promise<void> {
    const since = this.#countedUntilMs === null ? null : new Date(this.#countedUntilMs - RUN_REREAD_MARGIN_MS);
    for (const r of await finishedRunsSince(this.#o.pool, since)) {
      if (this.#countedRuns.has(r.id)) continue;
      this.#countedRuns.add(r.id);
      this.#countedUntilMs = Math.max(this.#countedUntilMs ?? Number.NEGATIVE_INFINITY, Date.parse(r.endedAt));
      this.#countRun(r);
    }
  }

  #countRun(r: FinishedRunCounts): void {
    this.#c.runs.inc({ status: r.status, dry_run: String(r.dryRun) });
    if (r.dryRun) return;
    this.#c.duration.observe(r.durationSeconds);
    for (const [purpose, c] of Object.entries(r.byPurpose)) {
      this.#seedPurpose(purpose);
      for (const outcome of DELETED_OUTCOMES) this.#c.deleted.inc({ purpose, outcome }, c[outcome]);
      this.#c.failed.inc({ purpose }, c.failed);
      this.#c.skipped.inc({ purpose, reason: 'refused' }, c.refused);
      this.#c.skipped.inc({ purpose, reason: 'shared' }, c.shared);
    }
  }

  async #refreshBacklog(): Promise<void> {
    // A failure waits for the next cache period too: a missing jobs table must not cost every scrape.
    this.#backlogAt = performance.now();
    let counts: BacklogCount[];
    try {
      counts = await countBacklog(this.#o.pool, await this.#jobsTable(), BACKLOG_CAP);
    } catch (error) {
      this.#g.backlog.reset();
      this.#o.logger.warn({ err: error }, 'metrics: could not count the expired-row backlog');
      return;
    }
    this.#g.backlog.reset();
    for (const c of counts) {
      this.#seedPurpose(c.purpose);
      this.#g.backlog.set({ purpose: c.purpose }, c.count);
    }
  }

  /** Creates a purpose's counter series at 0, so `increase()` sees its first run too. */
  #seedPurpose(purpose: string): void {
    if (this.#knownPurposes.has(purpose)) return;
    this.#knownPurposes.add(purpose);
    for (const outcome of DELETED_OUTCOMES) this.#c.deleted.inc({ purpose, outcome }, 0);
    this.#c.failed.inc({ purpose }, 0);
    for (const reason of ['refused', 'shared']) this.#c.skipped.inc({ purpose, reason }, 0);
  }
}

function seconds(iso: string | null): number {
  return iso === null ? 0 : Date.parse(iso) / 1000;
}

function createRunMetrics(registry: Registry) {
  const registers = [registry];
  return {
    runs: new Counter({
      name: 'lethe_runs_total',
      help: 'Runs finished on this database (lethe_runs, any process), by how they ended.',
      labelNames: ['status', 'dry_run'],
      registers,
    }),
    deleted: new Counter({
      name: 'lethe_files_deleted_total',
      help: 'Files deleted by every run on this database (lethe_runs summaries, any process), by purpose and outcome (erased, or already absent).',
      labelNames: ['purpose', 'outcome'],
      registers,
    }),
    failed: new Counter({
      name: 'lethe_files_failed_total',
      help: 'Deletes that failed (the row was kept for the next run), by purpose.',
      labelNames: ['purpose'],
      registers,
    }),
    skipped: new Counter({
      name: 'lethe_files_skipped_total',
      help: 'Expired rows not deleted on purpose: refused (unsafe key) or shared (a live row needs the file).',
      labelNames: ['purpose', 'reason'],
      registers,
    }),
    duration: new Histogram({
      name: 'lethe_run_duration_seconds',
      help: 'Duration of real (not dry) runs finished on this database (lethe_runs, any process).',
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200],
      registers,
    }),
  };
}

function createGauges(registry: Registry) {
  const registers = [registry];
  const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers });
  return {
    databaseUp: gauge('lethe_database_up', 'Whether the last read of state from the database succeeded.'),
    health: gauge('lethe_health_status', 'Health as /api/health/cleanup judges it: 1 for the current status.', ['status']),
    lastRun: gauge('lethe_last_run_timestamp_seconds', 'End of the last finished real run (0: never).'),
    lastSuccess: gauge('lethe_last_success_timestamp_seconds', 'End of the last completed real run (0: never).'),
    nextRun: gauge('lethe_next_run_timestamp_seconds', 'Next scheduled run of the live schedulers (0: none reported).'),
    paused: gauge('lethe_paused', 'Whether Lethe is paused (1) or not (0).'),
    restoreDetected: gauge(
      'lethe_restore_detected',
      'Whether a database restore was detected (the erasure journal holds erasures the ledger does not) and lethe replay has not run yet (1) or not (0).',
    ),
    runInProgress: gauge('lethe_run_in_progress', 'Whether a run is in progress on this database.'),
    schedulers: gauge('lethe_schedulers_alive', 'Schedulers with a fresh heartbeat.'),
    deleted24h: gauge('lethe_deleted_last_24h', 'Files deleted by real runs in the last 24 hours (audit_logs).'),
    failed24h: gauge(
      'lethe_failed_last_24h',
      'Files whose latest delete in the last 24 hours failed and whose row is still there (ledger; as the health JSON).',
    ),
    failureRatio24h: gauge('lethe_failure_ratio_last_24h', 'failed / (deleted + failed) over the last 24 hours (0 when nothing was attempted).'),
    lastDuration: gauge('lethe_last_run_duration_seconds', 'Duration of the last finished real run.'),
    lastDeleted: gauge('lethe_last_run_deleted_files', 'Files deleted by the last finished real run.'),
    lastFailed: gauge('lethe_last_run_failed_files', 'Failed deletions in the last finished real run.'),
    lastRate: gauge('lethe_last_run_deletes_per_second', 'Files deleted per second by the last finished real run.'),
    erasuresOverdue: gauge(
      'lethe_erasure_requests_overdue',
      'Erasure requests open past their deadline (runbook REQ-003; as overdue_requests in the health JSON).',
    ),
    backlog: gauge('lethe_backlog_expired_rows', `Expired rows still in the jobs table, by purpose (counted up to ${BACKLOG_CAP}, cached).`, ['purpose']),
  };
}
