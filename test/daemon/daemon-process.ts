import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../packages/cli/bin/lethe.js', import.meta.url));
const DIST = fileURLToPath(new URL('../../packages/cli/dist/index.js', import.meta.url));

export interface LogLine {
  readonly msg: string;
  readonly level: number;
  readonly [field: string]: unknown;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A `lethe` process spawned from the built CLI, its JSON log lines parsed as they arrive. */
export interface LetheProcess {
  readonly child: ChildProcess;
  readonly lines: LogLine[];
  /** Everything on stderr that was not a JSON log line (error messages). */
  readonly stderrText: () => string;
  readonly exited: Promise<Exit>;
  /** Resolves with the first log line (past or future) that matches; rejects at the deadline. */
  waitForLine(what: string, match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Kills it if it still runs (afterEach). */
  kill(): Promise<void>;
}

export function assertBuilt(): void {
  if (!existsSync(DIST)) throw new Error(`the CLI is not built (${DIST} missing): run \`pnpm build\` at the root first`);
}

/** Spawns `lethe <args>` with exactly `env` (plus PATH/HOME), so the parent's settings never leak in. */
export function spawnLethe(args: readonly string[], env: Record<string, string>): LetheProcess {
  assertBuilt();
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LETHE_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  let text = '';
  let buffered = '';
  const waiters = new Set<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const raw = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let line: LogLine | null = null;
      try {
        const parsed: unknown = JSON.parse(raw);
        if (parsed && typeof parsed === 'object' && 'msg' in parsed) line = parsed as LogLine;
      } catch {
        /* not a log line */
      }
      if (!line) {
        text += `${raw}\n`;
        continue;
      }
      lines.push(line);
      for (const w of waiters) {
        if (w.match(line)) {
          waiters.delete(w);
          w.resolve(line);
        }
      }
    }
  });
  child.stdout!.resume();
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    lines,
    stderrText: () => text,
    exited,
    waitForLine(what, match, timeoutMs = 20_000) {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = {
          match,
          resolve: (l: LogLine) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(
            new Error(
              `timed out after ${timeoutMs} ms waiting for ${what}; stderr:\n${text}\nlast lines:\n${lines
                .slice(-10)
                .map((l) => JSON.stringify(l))
                .join('\n')}`,
            ),
          );
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then((e) => {
          if (!waiters.has(waiter)) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          reject(new Error(`the process exited (${JSON.stringify(e)}) before ${what}; stderr:\n${text}`));
        });
      });
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** Polls `probe` until it returns a value other than undefined/false; rejects at the deadline. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits for an exit, failing the test (and killing the process) if it takes longer than `timeoutMs`. */
export async function exitWithin(p: LetheProcess, timeoutMs: number): Promise<Exit & { elapsedMs: number }> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the process did not exit within ${timeoutMs} ms; stderr:\n${p.stderrText()}`)), timeoutMs);
  });
  try {
    const exit = await Promise.race([p.exited, timeout]);
    return { ...exit, elapsedMs: Date.now() - started };
  } finally {
    clearTimeout(timer);
    await p.kill();
  }
}
