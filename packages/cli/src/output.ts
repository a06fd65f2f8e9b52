import { ConfigError, describeError, ErrorCodes, isLetheError } from '@lethe/engine';

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

function errorCode(error: unknown): string {
  if (isLetheError(error)) return error.code;
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' ? code : 'LETHE_E_INTERNAL';
}

/** Maps an error to its exit code and prints it: one line on stderr; with --json also JSON on stdout. */
export function reportError(io: Io, error: unknown, json: boolean): ExitCodeValue {
  const usage = error instanceof ConfigError || errorCode(error) === ErrorCodes.POLICY_UNKNOWN || errorCode(error) === ErrorCodes.STORAGE_URL;
  const message = describeError(error);
  io.stderr.write(`lethe: ${message}\n`);
  if (json) printJson(io, { error: { code: errorCode(error), message } });
  if (!usage && !isLetheError(error) && io.env.LETHE_DEBUG === '1' && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
  return usage ? ExitCode.USAGE : ExitCode.FAILURES;
}
