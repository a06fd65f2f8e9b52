import type { Command } from 'commander';
import { createEngine, SETTINGS, type Engine, type Logger } from '@lethe/engine';
import { createDaemon, type Daemon, type DaemonOptions } from '@lethe/daemon';
import type { HttpServiceFactory } from '@lethe/daemon';
import { engineOptions, type LetheConfig } from '../config.js';
import { ExitCode } from '../output.js';
import type { CommandContext } from '../program.js';
import { VERSION } from '../version.js';
import { CONNECTION_FLAG_HELP } from '../session.js';
import { settingHelp } from '../setting-help.js';

interface DaemonFlags {
  schedule?: string;
  timezone?: string;
  port?: string;
  host?: string;
  overlap?: string;
  storage?: string;
  databaseUrl?: string;
  batchSize?: string;
  deletesPerSecond?: string;
  threads?: string;
}

/** The HTTP port when neither --port nor LETHE_HTTP_PORT says otherwise. */
const DEFAULT_HTTP_PORT: number = SETTINGS.httpPort.default;

export function registerDaemon(program: Command, ctx: CommandContext): void {
  program
    .command('daemon')
    .description('run on a schedule (default daily 02:00 UTC) with health and admin HTTP on one port; any number of replicas, one run per fire')
    .option('--schedule <cron>', settingHelp('schedule'))
    .option('--timezone <tz>', settingHelp('timezone', { note: 'e.g. Asia/Kolkata' }))
    .option('--port <n>', settingHelp('httpPort', { about: 'HTTP port for health, /livez, /readyz and the admin API (0 = any free port)' }))
    .option('--host <addr>', settingHelp('httpHost', { defaultText: 'default all interfaces' }))
    .option(
      '--overlap <policy>',
      settingHelp('overlap', { about: 'when another run holds the lock at a fire: wait (bounded by LETHE_LOCK_WAIT_MS, default 15 min) or refuse' }),
    )
    .option('--storage <url>', CONNECTION_FLAG_HELP.storage)
    .option('--database-url <url>', CONNECTION_FLAG_HELP.databaseUrl)
    .option('--batch-size <n>', CONNECTION_FLAG_HELP.batchSize)
    .option('--deletes-per-second <n>', CONNECTION_FLAG_HELP.deletesPerSecond)
    .option('--threads <n>', CONNECTION_FLAG_HELP.threads)
    .action(async (flags: DaemonFlags) => {
      // Everything is validated before anything starts: a bad field exits 2 with its name.
      const config = ctx.config({
        schedule: flags.schedule,
        timezone: flags.timezone,
        httpPort: flags.port,
        httpHost: flags.host,
        overlap: flags.overlap,
        storage: flags.storage,
        databaseUrl: flags.databaseUrl,
        batchSize: flags.batchSize,
        deletesPerSecond: flags.deletesPerSecond,
        threads: flags.threads,
      });
      const logger = ctx.logger(config, 'info');
      const engine = createEngine(engineOptions(config, { logger: logger.child({ component: 'engine' }) }));
      let daemon: Daemon;
      try {
        // The HTTP service (fastify) loads only for the commands that serve: other commands start faster.
        const { createHttpService } = await import('@lethe/http');
        daemon = createDaemon(daemonOptions(config, engine, logger, ctx.signal, createHttpService));
      } catch (error) {
        await engine.close();
        throw error;
      }
      await daemon.start();
      const report = await daemon.stopped;
      ctx.setExit(report.clean ? ExitCode.OK : ExitCode.FAILURES);
      if (!report.clean) {
        // Something did not finish within LETHE_SHUTDOWN_TIMEOUT_MS (a storage call that hangs,
        // say) and may hold the process open: leave now. The run stays `running` in lethe_runs and
        // the next run records it as interrupted with the counts its ledger rows prove.
        ctx.io.stderr.write(`lethe: shutdown did not finish within the timeout (${report.unfinished.join(', ')}); exiting\n`);
        setTimeout(() => process.exit(ExitCode.FAILURES), 0).unref();
      }
    });
}

function daemonOptions(
  config: LetheConfig,
  engine: Engine,
  logger: Logger,
  signal: AbortSignal | undefined,
  createHttpService: HttpServiceFactory,
): DaemonOptions {
  return {
    engine,
    logger,
    version: VERSION,
    ...(config.schedule === undefined ? {} : { schedule: config.schedule }),
    ...(config.timezone === undefined ? {} : { timezone: config.timezone }),
    ...(config.overlap === undefined ? {} : { overlap: config.overlap }),
    ...(config.lockWaitMs === undefined ? {} : { overlapWaitMs: config.lockWaitMs }),
    ...(config.graceMs === undefined ? {} : { graceMs: config.graceMs }),
    ...(config.shutdownTimeoutMs === undefined ? {} : { shutdownTimeoutMs: config.shutdownTimeoutMs }),
    // A live daemon must never look stale: it beats at least three times per stale timeout.
    ...(config.staleAfterMs === undefined
      ? {}
      : { staleAfterMs: config.staleAfterMs, heartbeatIntervalMs: Math.min(5_000, Math.floor(config.staleAfterMs / 3)) }),
    http: {
      createService: createHttpService,
      port: config.httpPort ?? DEFAULT_HTTP_PORT,
      ...(config.httpHost === undefined ? {} : { host: config.httpHost }),
      ...(config.adminToken === undefined ? {} : { adminToken: config.adminToken }),
      ...(config.protectReads === undefined ? {} : { protectReads: config.protectReads !== 'false' }),
      ...(config.failureThreshold === undefined ? {} : { health: { failureThreshold: config.failureThreshold } }),
    },
    ...(signal ? { signal } : {}),
  };
}
