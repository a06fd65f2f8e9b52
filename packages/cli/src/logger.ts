import { createRequire } from 'node:module';
import type { Logger as PinoLogger } from 'pino';
import type { Logger } from '@lethe/engine';
import { UsageError } from './output.js';
import { VERSION } from './version.js';

const require = createRequire(import.meta.url);

/** pino's levels: a call below the configured level is dropped without loading pino. */
const LEVELS: Readonly<Record<string, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Number.POSITIVE_INFINITY };

/**
 * Logs go to stderr, so stdout stays for a command's own output (`--json` prints only JSON on
 * stdout). On a terminal they are human lines (pino-pretty); otherwise, or with `--log-format
 * json` / `LETHE_LOG_FORMAT=json`, one JSON object a line with an ISO-8601 UTC `time`, for log
 * collectors (runbook "Configuration"). pino is loaded on the first line that is logged, not at
 * start: a one-shot command at the default level (warn) usually logs nothing, and loading pino
 * costs ~40 ms of every start (docs/performance.md#peers).
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
  if (!(LOG_FORMATS as readonly string[]).includes(value))
    throw new UsageError(`${source}: expected one of ${LOG_FORMATS.join(', ')}, got ${JSON.stringify(flag ?? env)}`);
  if (value === 'auto') return stderrIsTTY ? 'pretty' : 'json';
  return value as 'pretty' | 'json';
}

/** pino-pretty is loaded only for a terminal: JSON logging (daemons, scripts) starts without it. */
const prettyStream = (options: import('pino-pretty').PrettyOptions): import('pino-pretty').PrettyStream =>
  (require('pino-pretty') as typeof import('pino-pretty')).build(options);

export function createLogger(level: string, options: LoggerOptions, name = 'lethe'): Logger {
  let root: PinoLogger | undefined;
  const threshold = LEVELS[level] ?? LEVELS.info!;
  const load = (): PinoLogger => {
    if (root) return root;
    const { pino } = require('pino') as typeof import('pino');
    const base = { name, level, base: { pid: process.pid, version: VERSION }, timestamp: pino.stdTimeFunctions.isoTime };
    root =
      options.format === 'json'
        ? pino(base, pino.destination({ fd: 2, sync: true }))
        : pino(
            base,
            prettyStream({
              destination: 2,
              sync: true,
              colorize: options.colour,
              // The same instant as the JSON's `time`, shortened: `2026-12-02 04:13:26.123Z`.
              translateTime: "UTC:yyyy-mm-dd HH:MM:ss.l'Z'",
              ignore: 'pid,hostname,version,name',
              singleLine: true,
            }),
          );
    return root;
  };
  /** A logger whose bindings are applied (by pino's own child()) when it first logs. */
  const lazy = (bindings: readonly Record<string, unknown>[]): Logger => {
    let real: PinoLogger | undefined;
    const get = (): PinoLogger => (real ??= bindings.reduce<PinoLogger>((l, b) => l.child(b), load()));
    const at =
      (lvl: 'debug' | 'info' | 'warn' | 'error') =>
      (obj: object, msg?: string): void => {
        if (LEVELS[lvl]! < threshold) return;
        if (msg === undefined) get()[lvl](obj);
        else get()[lvl](obj, msg);
      };
    return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (b) => lazy([...bindings, b]) };
  };
  return lazy([]);
}
