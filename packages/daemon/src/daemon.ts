import { claimScheduleSlot, ErrorCodes, lastRuns, readControl, schemaVersion, SchemaError, type RunSummary, type SchedulerBeat } from '@lethe/engine';
import { createHttpService } from '@lethe/http';
import { catchUpIfMissed, handleScheduledFire, type FireDeps } from './fires.js';
import { Heartbeat } from './heartbeat.js';
import { resolveDaemonOptions, type DaemonOptions, type ResolvedDaemonOptions } from './options.js';
import type { HttpServicePort } from './ports.js';
import { RunGate } from './run-gate.js';
import { runSchedulerLoop } from './scheduler-loop.js';
import { shutDown, type ShutdownReport } from './shutdown.js';
import { claimCatchUpSlot } from './sql/claim-catch-up.js';

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

export function createDaemon(input: DaemonOptions): Daemon {
  const o = resolveDaemonOptions(input);
  const { engine, clock, schedule } = o;
  const log = o.logger.child({ instanceId: o.instanceId });
  const stopSchedule = new AbortController();
  let http: HttpServicePort | null = null;
  let nextRunMs: number | null = null;
  let state: SchedulerBeat['state'] = 'running';
  let ready = false;
  let beganStart = false;
  let beatWritten = false;
  const tasks: Promise<unknown>[] = [];

  const gate = new RunGate({ engine, logger: log, onSummary: (s: RunSummary) => http?.observeRun(s) });
  const heartbeat = new Heartbeat({
    db: engine.pool, clock, logger: log, intervalMs: o.heartbeatIntervalMs,
    beat: () => ({
      instanceId: o.instanceId, host: o.host, pid: o.pid, version: o.version,
      schedule: schedule.expression, timezone: schedule.timezone, periodMs: schedule.periodAt(clock.now()),
      nextRun: nextRunMs === null ? null : new Date(nextRunMs).toISOString(), state,
    }),
  });
  const fireDeps: FireDeps = {
    clock, logger: log, schedule, graceMs: o.graceMs, lockWaitMs: o.lockWaitMs,
    readControl: () => readControl(engine.pool),
    claimSlot: (slot) => claimScheduleSlot(engine.pool, slot, o.instanceId),
    claimCatchUpSlot: (slot) => claimCatchUpSlot(engine.pool, slot, o.instanceId),
    lastRuns: () => lastRuns(engine.pool),
    run: (request) => gate.run(request),
  };

  let stopping: Promise<ShutdownReport> | null = null;
  let resolveStopped: (r: ShutdownReport) => void = () => {};
  const stopped = new Promise<ShutdownReport>((resolve) => (resolveStopped = resolve));
  const stop = (reason = 'stop requested'): Promise<ShutdownReport> => {
    stopping ??= shutDown({
      clock, logger: log, reason, timeoutMs: o.shutdownTimeoutMs,
      steps: [
        {
          name: 'schedule and runs in flight',
          begin: () => {
            ready = false;
            stopSchedule.abort();
            gate.abort();
            return Promise.all([gate.drain(), ...tasks]);
          },
        },
        { name: 'http', begin: () => http?.close() ?? Promise.resolve() },
        {
          name: 'stopped heartbeat',
          begin: () => {
            if (!beatWritten) return Promise.resolve();
            state = 'stopped';
            nextRunMs = null;
            return heartbeat.write();
          },
        },
        { name: 'engine', begin: () => engine.close() },
      ],
      runsInFlight: () => gate.running,
    }).then((report) => {
      resolveStopped(report);
      return report;
    });
    return stopping;
  };

  async function start(): Promise<DaemonStarted> {
    if (beganStart) throw new Error('daemon: start() was already called');
    beganStart = true;
    try {
      await checkSchema();
      engine.storage();
      nextRunMs = schedule.nextAfter(clock.now());
      await heartbeat.write();
      beatWritten = true;
      let httpPort: number | null = null;
      if (o.http) {
        http = createHttpService({
          pool: engine.pool, logger: log.child({ component: 'http' }), version: o.version, engine,
          staleAfterMs: o.staleAfterMs,
          health: { graceMs: o.graceMs, ...o.http.health },
          ...(o.http.adminToken === undefined ? {} : { adminToken: o.http.adminToken }),
          ...(o.http.protectReads === undefined ? {} : { protectReads: o.http.protectReads }),
          triggerRun: ({ dryRun, by }) => gate.start({ trigger: 'api', dryRun, by, lockWaitMs: 0 }),
          ready: () => ready,
        });
        httpPort = (await http.listen(o.http.port, o.http.host)).port;
        log.info({ port: httpPort, host: o.http.host ?? null }, 'http listening (health, /livez, /readyz, admin API)');
      }
      tasks.push(heartbeat.loop(stopSchedule.signal), scheduleTask());
      ready = true;
      const nextRun = nextRunMs === null ? null : new Date(nextRunMs).toISOString();
      log.info(
        { schedule: schedule.expression, timezone: schedule.timezone, periodMs: schedule.periodAt(clock.now()), nextRun, overlap: o.overlap, lockWaitMs: o.lockWaitMs, graceMs: o.graceMs, httpPort, host: o.host, pid: o.pid, version: o.version },
        'daemon started',
      );
      if (o.signal) {
        if (o.signal.aborted) void stop('signal');
        else o.signal.addEventListener('abort', () => void stop('signal'), { once: true });
      }
      return { instanceId: o.instanceId, httpPort, nextRun };
    } catch (error) {
      await stop('start failed');
      throw error;
    }
  }

  async function checkSchema(): Promise<void> {
    const version = await schemaVersion(engine.pool);
    if (version >= DAEMON_SCHEMA_VERSION) return;
    throw new SchemaError(
      version === 0
        ? "Lethe's tables are missing in this database: run `lethe migrate` first"
        : `the database schema is at version ${version}; the daemon needs version ${DAEMON_SCHEMA_VERSION} or later: run \`lethe migrate\` first`,
      ErrorCodes.NOT_MIGRATED,
    );
  }

  /** Catch-up first (it may run for a while), then the fires; errors are logged, never fatal. */
  async function scheduleTask(): Promise<void> {
    try {
      await catchUpIfMissed(fireDeps);
    } catch (error) {
      log.error({ err: error }, 'the catch-up check failed; the schedule goes on');
    }
    await runSchedulerLoop({
      clock, schedule, logger: log, signal: stopSchedule.signal,
      onNextRun: (slot) => {
        if (slot === nextRunMs) return;
        nextRunMs = slot;
        if (!stopSchedule.signal.aborted) void heartbeat.write();
      },
      fire: async (slot) => {
        await handleScheduledFire(fireDeps, slot);
      },
    });
  }

  return {
    options: o,
    start,
    stop,
    stopped,
    nextRun: () => (nextRunMs === null ? null : new Date(nextRunMs).toISOString()),
    ready: () => ready,
  };
}
