import { createRequire } from 'node:module';
import type { Logger as PinoLogger } from 'pino';
import type { Logger } from '@lethe/engine';
import { VERSION } from './version.js';

const require = createRequire(import.meta.url);

/** pino's levels: a call below the configured level is dropped without loading pino. */
const LEVELS: Readonly<Record<string, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Number.POSITIVE_INFINITY };

/**
 * Structured JSON logs on stderr, so stdout stays for a command's own output (`--json` prints
 * only JSON on stdout). pino is loaded on the first line that is logged, not at start: a one-shot
 * command at the default level (warn) usually logs nothing, and loading pino costs ~40 ms of
 * every start (docs/performance.md#peers). pino is CommonJS, so it loads synchronously on demand.
 */
export function createLogger(level: string, name = 'lethe'): Logger {
  let root: PinoLogger | undefined;
  const threshold = LEVELS[level] ?? LEVELS.info!;
  const load = (): PinoLogger => {
    if (root) return root;
    const { pino } = require('pino') as typeof import('pino');
    root = pino({ name, level, base: { pid: process.pid, version: VERSION } }, pino.destination({ fd: 2, sync: true }));
    return root;
  };
  /** A logger whose bindings are applied (by pino's own child()) when it first logs. */
  const lazy = (bindings: readonly Record<string, unknown>[]): Logger => {
    let real: PinoLogger | undefined;
    const get = (): PinoLogger => (real ??= bindings.reduce<PinoLogger>((l, b) => l.child(b), load()));
    const at = (lvl: 'debug' | 'info' | 'warn' | 'error') => (obj: object, msg?: string): void => {
      if (LEVELS[lvl]! < threshold) return;
      if (msg === undefined) get()[lvl](obj);
      else get()[lvl](obj, msg);
    };
    return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (b) => lazy([...bindings, b]) };
  };
  return lazy([]);
}
