import { ConfigError, describeError, errorCodeOf, exitCodeOf, isLetheError } from '@lethe/engine';
import { explainDatabaseError } from './database-errors.js';

/** Exit codes every command shares: 0 ok, 1 failures found or the run failed, 2 bad usage or config. */
export const ExitCode = { OK: 0, FAILURES: 1, USAGE: 2 } as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Thrown by commands for bad usage that commander cannot see (a malformed value, say). */
export class UsageError extends ConfigError {}

export interface Io {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
}

export function printJson(io: Io, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printLines(io: Io, lines: readonly string[]): void {
  io.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * Maps an error to its exit code (the engine's ERROR_ANSWERS table: 2 for usage and configuration
 * codes, 1 otherwise) and prints it: one line on stderr; with --json also JSON on stdout.
 * Raw database errors (refused connection, missing Lethe tables) are explained first, for every
 * command; they exit 1 (the configuration was valid, the database was not there or not ready).
 */
export function reportError(io: Io, raw: unknown, json: boolean, databaseUrl?: string): ExitCodeValue {
  const error = explainDatabaseError(raw, databaseUrl);
  const exit = exitCodeOf(error) === 2 ? ExitCode.USAGE : ExitCode.FAILURES;
  const message = describeError(error);
  io.stderr.write(`lethe: ${message}\n`);
  if (json) printJson(io, { error: { code: errorCodeOf(error), message } });
  if (exit !== ExitCode.USAGE && !isLetheError(raw) && io.env.LETHE_DEBUG === '1' && raw instanceof Error && raw.stack) io.stderr.write(`${raw.stack}\n`);
  return exit;
}
