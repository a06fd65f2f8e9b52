import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The built CLI, as operators run it (`pnpm build` first: the tests spawn packages/cli/dist). */
const BIN = fileURLToPath(new URL('../../../packages/cli/bin/lethe.js', import.meta.url));
const DIST = fileURLToPath(new URL('../../../packages/cli/dist/index.js', import.meta.url));

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as one JSON document (fails the test if it is not). */
  json<T = Record<string, unknown>>(): T;
  /** stdout as lines. */
  readonly lines: readonly string[];
}

/**
 * Spawns `lethe <args>` with exactly this environment (nothing inherited but PATH), so a
 * developer's DATABASE_URL or LETHE_STORAGE can never leak into a test.
 */
export function lethe(args: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<CliResult> {
  if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run \`pnpm build\` before the CLI tests`);
  const fullEnv: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', LETHE_LOG_LEVEL: 'warn' };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) fullEnv[k] = v;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, ...args], { env: fullEnv, timeout: 45_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      if (code === null) {
        reject(new Error(`lethe ${args.join(' ')} did not exit normally (${error?.message}); stderr: ${stderr}`));
        return;
      }
      resolve({
        code,
        stdout,
        stderr,
        lines: stdout.split('\n').filter((l) => l !== ''),
        json<T>(): T {
          try {
            return JSON.parse(stdout) as T;
          } catch {
            throw new Error(`lethe ${args.join(' ')}: stdout is not one JSON document:\n${stdout}\nstderr:\n${stderr}`);
          }
        },
      });
    });
  });
}
