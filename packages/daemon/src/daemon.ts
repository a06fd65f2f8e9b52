import { claimCatchUpSlot, claimScheduleSlot, describeError, ErrorCodes, readControl, schemaVersion, SchemaError, type SchedulerBeat } from '@lethe/engine';
import { lastRuns } from '@lethe/engine/operations';
import { catchUpIfMissed, handleScheduledFire, type FireDeps } from './fires.js';
import { Heartbeat } from './heartbeat.js';
import { watchPauseState } from './pause-watch.js';
import { resolveDaemonOptions, type DaemonHttpOptions, type DaemonOptions, type ResolvedDaemonOptions } from './options.js';
import type { HttpServicePort, Logger } from './ports.js';
import { RunGate } from './run-gate.js';
import { runSchedulerLoop } from './scheduler-loop.js';
import { shutDown, type ShutdownReport, type ShutdownStep } from './shutdown.js';

/** The schema version that has `lethe_schedulers` and `lethe_schedule_claims` (engine migration 2). */
export const DAEMON_SCHEMA_VERSION = 2;

export interface DaemonStarted {
  readonly instanceId: string;
  /** The bound HTTP port (useful with port 0), or null without HTTP. */
  readonly httpPort: number | null;
  readonly nextRun: string | null;
}

export interface Daemon {
  readonly options: ResolvedDaemonOptions;
  /** Checks the schema, writes the first heartbeat, serves HTTP, starts the schedule (catch-up first). */
  start(): Promise<DaemonStarted>;
  /** Stops (idempotent): schedule, runs in flight (drained, recorded `interrupted`), HTTP, heartbeat, engine. */
  stop(reason?: string): Promise<ShutdownReport>;
  /** Settles when the daemon has stopped, however that was asked (stop() or the abort signal). */
  readonly stopped: Promise<ShutdownReport>;
  /** The next scheduled fire (ISO), as in the heartbeat row. */
  nextRun(): string | null;
  /** The scheduler is started and not stopping (the HTTP /readyz check). */
  ready(): boolean;
}

/** Validates the options (throws ConfigError naming the field) and builds a daemon; nothing starts yet. */
export function createDaemon(options: DaemonOptions): Daemon {
  return new LetheDaemon(resolveDaemonOptions(options));
}

class LetheDaemon implements Daemon {
  readonly options: ResolvedDaemonOptions;
  readonly stopped: Promise<ShutdownReport>;
  readonly #log: Logger;
  readonly #stopSchedule = new AbortController();
  readonly #gate: RunGate;
  readonly #heartbeat: Heartbeat;
  readonly #tasks: Promise<unknown>[] = [];
  #http: HttpServicePort | null = null;
  #nextRunMs: number | null = null;
  #state: SchedulerBeat['state'] = 'running';
  #ready = false;
  #began = false;
  #beatWritten = false;
  #stopping: Promise<ShutdownReport> | null = null;
  #resolveStopped: (report: ShutdownReport) => void = () => {};

  constructor(o: ResolvedDaemonOptions) {
    this.options = o;
    this.#log = o.logger.child({ instanceId: o.instanceId });
    this.stopped = new Promise((resolve) => (this.#resolveStopped = resolve));
    this.#gate = new RunGate({ engine: o.engine, logger: this.#log, onSummary: (s) => this.#http?.observeRun(s) });
    this.#heartbeat = new Heartbeat({ db: o.engine.pool, clock: o.clock, logger: this.#log, intervalMs: o.heartbeatIntervalMs, beat: () => this.#beat() });
  }

  nextRun(): string | null {
    return this.#nextRunMs === null ? null : new Date(this.#nextRunMs).toISOString();
  }

  ready(): boolean {
    return this.#ready;
  }

  async start(): Promise<DaemonStarted> {
    if (this.#began) throw new Error('daemon: start() was already called');
    this.#began = true;
    const o = this.options;
    try {
      await this.#checkSchema();
      o.engine.storage();
      await this.#checkRestore();
      this.#nextRunMs = o.schedule.nextAfter(o.clock.now());
      await this.#heartbeat.write();
      this.#beatWritten = true;
      const httpPort = o.http ? await this.#serveHttp(o.http) : null;
      this.#tasks.push(
        this.#heartbeat.loop(this.#stopSchedule.signal),
        watchPauseState({
          clock: o.clock,
          logger: this.#log,
          intervalMs: o.heartbeatIntervalMs,
          readControl: () => readControl(o.engine.pool),
          signal: this.#stopSchedule.signal,
        }),
        this.#scheduleTask(),
      );
      this.#ready = true;
      this.#log.info(
        {
          schedule: o.schedule.expression,
          timezone: o.schedule.timezone,
          periodMs: o.schedule.periodAt(o.clock.now()),
          nextRun: this.nextRun(),
          overlap: o.overlap,
          lockWaitMs: o.lockWaitMs,
          graceMs: o.graceMs,
          httpPort,
          host: o.host,
          version: o.version,
        },
        'daemon started',
      );
      if (o.signal?.aborted) void this.stop('signal');
      else o.signal?.addEventListener('abort', () => void this.stop('signal'), { once: true });
      return { instanceId: o.instanceId, httpPort, nextRun: this.nextRun() };
    } catch (error) {
      await this.stop('start failed');
      throw error;
    }
  }

  /**
   * At start (docs/safety.md#erasures-survive-a-backup-restore): a database restored from a backup is seen here, before the first
   * scheduled run. The daemon still starts (health says `restore_detected`, scheduled runs are
   * refused until `lethe replay`); a journal that cannot be read is logged, and each scheduled
   * run checks again.
   */
  async #checkRestore(): Promise<void> {
    try {
      const check = await this.options.engine.checkRestore();
      if (check?.detected)
        this.#log.error(
          { detectedAt: check.detectedAt, entries: check.entries, objects: check.objects },
          'a database restore was detected: the erasure journal holds erasures the ledger does not; scheduled runs wait for `lethe replay`',
        );
    } catch (error) {
      this.#log.error({ error: describeError(error) }, 'the erasure journal could not be checked for a restore; each scheduled run checks again');
    }
  }

  stop(reason = 'stop requested'): Promise<ShutdownReport> {
    this.#stopping ??= shutDown({
      clock: this.options.clock,
      logger: this.#log,
      reason,
      timeoutMs: this.options.shutdownTimeoutMs,
      steps: this.#shutdownSteps(),
      runsInFlight: () => this.#gate.running,
    }).then((report) => {
      this.#resolveStopped(report);
      return report;
    });
    return this.#stopping;
  }

  /** The order docs/daemon.md#shutdown gives: schedule and runs, HTTP, a stopped heartbeat, the engine. */
  #shutdownSteps(): ShutdownStep[] {
    return [
      {
        name: 'schedule and runs in flight',
        begin: () => {
          this.#ready = false;
          this.#stopSchedule.abort();
          this.#gate.abort();
          return Promise.all([this.#gate.drain(), ...this.#tasks]);
        },
      },
      { name: 'http', begin: () => this.#http?.close() ?? Promise.resolve() },
      {
        name: 'stopped heartbeat',
        begin: () => {
          if (!this.#beatWritten) return Promise.resolve();
          this.#state = 'stopped';
          this.#nextRunMs = null;
          return this.#heartbeat.write();
        },
      },
      { name: 'engine', begin: () => this.options.engine.close() },
    ];
  }

  #beat(): SchedulerBeat {
    const o = this.options;
    return {
      instanceId: o.instanceId,
      host: o.host,
      pid: o.pid,
      version: o.version,
      schedule: o.schedule.expression,
      timezone: o.schedule.timezone,
      periodMs: o.schedule.periodAt(o.clock.now()),
      nextRun: this.nextRun(),
      state: this.#state,
    };
  }

  async #checkSchema(): Promise<void> {
    const version = await schemaVersion(this.options.engine.pool);
    if (version >= DAEMON_SCHEMA_VERSION) return;
    throw new SchemaError(
      version === 0
        ? "Lethe's tables are missing in this database: run `lethe migrate` first"
        : `the database schema is at version ${version}; the daemon needs version ${DAEMON_SCHEMA_VERSION} or later: run \`lethe migrate\` first`,
      ErrorCodes.NOT_MIGRATED,
    );
  }

  /** The HTTP service in-process (built by the injected factory); its runs take the same guarded path as scheduled ones. */
  async #serveHttp(h: DaemonHttpOptions): Promise<number> {
    const o = this.options;
    this.#http = h.createService({
      pool: o.engine.pool,
      logger: this.#log.child({ component: 'http' }),
      version: o.version,
      engine: o.engine,
      staleAfterMs: o.staleAfterMs,
      health: { graceMs: o.graceMs, ...h.health },
      ...(h.adminToken === undefined ? {} : { adminToken: h.adminToken }),
      ...(h.protectReads === undefined ? {} : { protectReads: h.protectReads }),
      // Never waits for the lock: the caller gets a 409 at once rather than a request that hangs.
      triggerRun: ({ dryRun, by, allowLarge }) => this.#gate.start({ trigger: 'api', dryRun, by, lockWaitMs: 0, ...(allowLarge ? { allowLarge } : {}) }),
      ready: () => this.#ready,
    });
    const { port } = await this.#http.listen(h.port, h.host);
    this.#log.info({ port, host: h.host ?? null }, 'http listening (health, /livez, /readyz, admin API)');
    return port;
  }

  #fireDeps(): FireDeps {
    const o = this.options;
    const pool = o.engine.pool;
    return {
      clock: o.clock,
      logger: this.#log,
      schedule: o.schedule,
      graceMs: o.graceMs,
      lockWaitMs: o.lockWaitMs,
      readControl: () => readControl(pool),
      claimSlot: (slot) => claimScheduleSlot(pool, slot, o.instanceId),
      claimCatchUpSlot: (slot) => claimCatchUpSlot(pool, slot, o.instanceId),
      lastRuns: () => lastRuns(pool),
      run: (request) => this.#gate.run(request),
    };
  }

  /** Catch-up first (it may run for a while), then the fires; errors are logged, never fatal. */
  async #scheduleTask(): Promise<void> {
    const deps = this.#fireDeps();
    try {
      await catchUpIfMissed(deps);
    } catch (error) {
      this.#log.error({ err: error }, 'the catch-up check failed; the schedule goes on');
    }
    await runSchedulerLoop({
      clock: this.options.clock,
      schedule: this.options.schedule,
      logger: this.#log,
      signal: this.#stopSchedule.signal,
      onNextRun: (slot) => {
        if (slot === this.#nextRunMs) return;
        this.#nextRunMs = slot;
        if (!this.#stopSchedule.signal.aborted) void this.#heartbeat.write();
      },
      fire: async (slot) => {
        await handleScheduledFire(deps, slot);
      },
    });
  }
}
