import type { Command } from 'commander';
import { createEngine, SETTINGS } from '@lethe/engine';
import type { HttpService } from '@lethe/http';
import { engineOptions, type LetheConfig } from '../config.js';
import { ExitCode, printLines } from '../output.js';
import type { CommandContext } from '../program.js';
import { VERSION } from '../version.js';
import { CONNECTION_FLAG_HELP } from '../session.js';
import { settingHelp } from '../setting-help.js';

interface ServeFlags {
  port?: string;
  host?: string;
  protectReads?: boolean;
  storage?: string;
  databaseUrl?: string;
  batchSize?: string;
  deletesPerSecond?: string;
  threads?: string;
}

const DEFAULT_HTTP_PORT: number = SETTINGS.httpPort.default;

/**
 * `lethe serve`: the HTTP service alone (health, probes, metrics, admin API) without a schedule.
 * Runs triggered through the admin API run in this process, on an engine built from the config;
 * its metrics' gauges come from the database, so it shows the fleet's last/next run too.
 */
export function registerServe(program: Command, ctx: CommandContext): void {
  program
    .command('serve')
    .description('serve /api/health/cleanup, /livez, /readyz, /metrics and the admin API (LETHE_ADMIN_TOKEN) without a schedule')
    .option('--port <n>', settingHelp('httpPort'))
    .option('--host <addr>', settingHelp('httpHost', { defaultText: 'default all interfaces' }))
    .option('--protect-reads', 'admin read routes (history, ledger, report) need the token too: the default; LETHE_ADMIN_PROTECT_READS=false opens them')
    .option('--storage <url>', settingHelp('storage', { about: 'storage URL for runs triggered over HTTP' }))
    .option('--database-url <url>', CONNECTION_FLAG_HELP.databaseUrl)
    .option('--batch-size <n>', CONNECTION_FLAG_HELP.batchSize)
    .option('--deletes-per-second <n>', CONNECTION_FLAG_HELP.deletesPerSecond)
    .option('--threads <n>', CONNECTION_FLAG_HELP.threads)
    .action(async (flags: ServeFlags) => {
      const config = ctx.config({
        httpPort: flags.port,
        httpHost: flags.host,
        storage: flags.storage,
        databaseUrl: flags.databaseUrl,
        batchSize: flags.batchSize,
        deletesPerSecond: flags.deletesPerSecond,
        threads: flags.threads,
        ...(flags.protectReads ? { protectReads: 'true' } : {}),
      });
      const logger = ctx.logger(config, 'info');
      const engine = createEngine(engineOptions(config, { logger: logger.child({ component: 'engine' }) }));
      // fastify loads only for the commands that serve: other commands start faster.
      const { createBackgroundRuns, createHttpService } = await import('@lethe/http');
      let service: HttpService | undefined;
      const runs = createBackgroundRuns(engine, {
        logger: logger.child({ component: 'runs' }),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
        onFinished: (summary) => service?.observeRun(summary),
      });
      try {
        service = createHttpService({
          pool: engine.pool,
          logger: logger.child({ component: 'http' }),
          version: VERSION,
          engine,
          triggerRun: runs.triggerRun,
          protectReads: config.protectReads !== 'false',
          ...(config.staleAfterMs === undefined ? {} : { staleAfterMs: config.staleAfterMs }),
          ...(config.adminToken === undefined ? {} : { adminToken: config.adminToken }),
          health: healthOptions(config),
        });
        const host = config.httpHost;
        const { port } = await service.listen(config.httpPort ?? DEFAULT_HTTP_PORT, host);
        const url = `http://${host === undefined ? '0.0.0.0' : host.includes(':') ? `[${host}]` : host}:${port}`;
        logger.info({ port, host: host ?? null, admin: config.adminToken === undefined ? 'disabled' : 'enabled' }, 'http: listening');
        if (config.adminToken === undefined) logger.warn({}, 'http: LETHE_ADMIN_TOKEN is not set: the admin API is disabled (404)');
        printLines(ctx.io, [`lethe serve: listening on ${url}`]);
        await untilAborted(ctx.signal);
        logger.info({}, 'http: shutting down (runs in flight finish their batches)');
        await runs.idle();
        ctx.setExit(ExitCode.OK);
      } finally {
        await service?.close();
        await runs.idle();
        await engine.close();
      }
    });
}

function healthOptions(config: LetheConfig): { graceMs?: number; failureThreshold?: number } {
  return {
    ...(config.graceMs === undefined ? {} : { graceMs: config.graceMs }),
    ...(config.failureThreshold === undefined ? {} : { failureThreshold: config.failureThreshold }),
  };
}

/** Serves until the signal (SIGINT/SIGTERM in the bin); without one, until the process ends. */
function untilAborted(signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return new Promise(() => {});
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
