import type { Command } from 'commander';
import { createEngine, type Engine } from '@lethe/engine';
import { engineOptions } from './config.js';
import { settingHelp } from './setting-help.js';
import type { CommandContext } from './program.js';

/**
 * Flags every operator command shares with `lethe run` (flags > env > config file). README's
 * settings table promises each of these as a flag on every command that needs it; `-c/--config`
 * is the program's own option and works before or after the command name.
 */
export interface ConnectionFlags {
  readonly databaseUrl?: string;
  readonly storage?: string;
  readonly batchSize?: string;
  readonly threads?: string;
  readonly deletesPerSecond?: string;
  readonly json?: boolean;
}

export interface ConnectionOptionSet {
  /** The command reads or changes storage: --storage, and --threads for its storage workers. */
  readonly storage: boolean;
  /** The command streams rows in batches (verify, plan, reconcile, erasures): --batch-size. */
  readonly batches?: boolean;
  /** The command deletes at the rate ceiling (run): --deletes-per-second. */
  readonly deletes?: boolean;
}

/** Flag help derived from the option spec (setting-help.ts); `lethe run`, `serve` and `daemon` use the same. */
export const CONNECTION_FLAG_HELP = {
  databaseUrl: settingHelp('databaseUrl'),
  storage: settingHelp('storage'),
  batchSize: settingHelp('batchSize'),
  deletesPerSecond: settingHelp('deletesPerSecond'),
  threads: settingHelp('threads', { note: 'see docs/performance.md#peers' }),
} as const;

export function addConnectionOptions(command: Command, options: ConnectionOptionSet): Command {
  command.option('--database-url <url>', CONNECTION_FLAG_HELP.databaseUrl);
  if (options.storage) {
    command.option('--storage <url>', CONNECTION_FLAG_HELP.storage);
    command.option('--threads <n>', settingHelp('threads', { defaultText: 'default 1 for this command' }));
  }
  if (options.batches) command.option('--batch-size <n>', CONNECTION_FLAG_HELP.batchSize);
  if (options.deletes) command.option('--deletes-per-second <n>', CONNECTION_FLAG_HELP.deletesPerSecond);
  return command;
}

/** The configuration a command's connection flags ask for (absent flags leave env and file in charge). */
export function connectionConfig(ctx: CommandContext, flags: ConnectionFlags): ReturnType<CommandContext['config']> {
  return ctx.config({
    databaseUrl: flags.databaseUrl,
    storage: flags.storage,
    batchSize: flags.batchSize,
    threads: flags.threads,
    deletesPerSecond: flags.deletesPerSecond,
  });
}

/**
 * Builds an engine from the resolved configuration, hands it to `fn`, and always closes it (the
 * pool, and the storage worker threads when a command used storage).
 */
export async function withEngine<T>(ctx: CommandContext, flags: ConnectionFlags, fn: (engine: Engine) => Promise<T>): Promise<T> {
  const config = connectionConfig(ctx, flags);
  const engine = createEngine(engineOptions(config, { logger: ctx.logger(config), threads: config.threads ?? 1 }));
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}
