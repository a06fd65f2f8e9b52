import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../packages/cli/bin/lethe.js', import.meta.url));

export interface TtyResult {
  readonly code: number;
  /** stdout and stderr as the terminal showed them (both go to the pseudo-terminal). */
  readonly output: string;
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs `lethe <args>` on a real pseudo-terminal (util-linux `script`), so stdout and stderr are
 * TTYs as on an operator's screen; exactly `env` is passed (plus PATH). `script -e` returns the
 * command's exit code.
 */
export function letheOnTty(args: readonly string[], env: Readonly<Record<string, string>>): Promise<TtyResult> {
  const command = [process.execPath, BIN, ...args].map(quote).join(' ');
  const fullEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', TERM: 'xterm', ...env };
  return new Promise((resolve, reject) => {
    execFile('script', ['-qefc', command, '/dev/null'], { env: fullEnv, timeout: 45_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      if (code === null) reject(new Error(`script ${command} did not exit normally: ${error?.message}`));
      else resolve({ code, output: stdout.replace(/\r\n/g, '\n') });
    });
  });
}
