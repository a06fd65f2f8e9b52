import { pino, type Logger as PinoLogger } from 'pino';
import type { Logger } from '@lethe/engine';
import { VERSION } from './version.js';

/**
 * Structured JSON logs on stderr, so stdout stays for a command's own output (`--json` prints
 * only JSON on stdout).
 */
export function createLogger(level: string, name = 'lethe'): PinoLogger & Logger {
  return pino({ name, level, base: { pid: process.pid, version: VERSION } }, pino.destination({ fd: 2, sync: true })) as PinoLogger & Logger;
}
