import { pino, type Logger as PinoLogger } from 'pino';
import { createRequire } from 'node:module';
import type { Logger } from '@lethe/engine';
import { UsageError } from './output.js';
import { VERSION } from './version.js';

/**
 * Logs go to stderr, so stdout stays for a command's own output (`--json` prints only JSON on
 * stdout). On a terminal they are human lines (pino-pretty); otherwise, or with `--log-format
 * json` / `LETHE_LOG_FORMAT=json`, one JSON object a line with an ISO-8601 UTC `time`, for log
 * collectors (runbook "Configuration").
 */
export const LOG_FORMATS = ['auto', 'pretty', 'json'] as const;
export type LogFormatChoice = (typeof LOG_FORMATS)[number];

export interface LoggerOptions {
  /** `pretty` or `json`, already resolved from the flag, the env and the terminal. */
  readonly format: 'pretty' | 'json';
  /** Colour in pretty lines (stderr is a terminal and NO_COLOR is not set). */
  readonly colour: boolean;
}

/** `--log-format` wins over `LETHE_LOG_FORMAT`; `auto` (the default) is pretty on a terminal. */
export function resolveLogFormat(flag: string | undefined, env: string | undefined, stderrIsTTY: boolean): 'pretty' | 'json' {
  const source = flag !== undefined ? '--log-format' : 'LETHE_LOG_FORMAT';
  const value = (flag ?? (env || 'auto')).trim().toLowerCase();
  if (!(LOG_FORMATS as readonly string[]).includes(value)) throw new UsageError(`${source}: expected one of ${LOG_FORMATS.join(', ')}, got ${JSON.stringify(flag ?? env)}`);
  if (value === 'auto') return stderrIsTTY ? 'pretty' : 'json';
  return value as 'pretty' | 'json';
}

/** pino-pretty is loaded only for a terminal: JSON logging (daemons, scripts) starts without it. */
const requireCjs = createRequire(import.meta.url);
const prettyStream = (options: import('pino-pretty').PrettyOptions): import('pino-pretty').PrettyStream =>
  (requireCjs('pino-pretty') as typeof import('pino-pretty')).build(options);

export function createLogger(level: string, options: LoggerOptions, name = 'lethe'): PinoLogger & Logger {
  const base = { name, level, base: { pid: process.pid, version: VERSION }, timestamp: pino.stdTimeFunctions.isoTime };
  if (options.format === 'json') return pino(base, pino.destination({ fd: 2, sync: true })) as PinoLogger & Logger;
  const stream = prettyStream({
    destination: 2, sync: true, colorize: options.colour,
    // The same instant as the JSON's `time`, shortened: `2026-12-02 04:13:26.123Z`.
    translateTime: "UTC:yyyy-mm-dd HH:MM:ss.l'Z'",
    ignore: 'pid,hostname,version,name',
    singleLine: true,
  });
  return pino(base, stream) as PinoLogger & Logger;
}
