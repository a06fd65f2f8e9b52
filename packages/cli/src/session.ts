import type { Command } from 'commander';
import { createEngine, type Engine } from '@lethe/engine';
import { engineOptions } from './config.js';
import type { CommandContext } from './program.js';

/** Flags every operator command shares with `lethe run` (flags > env > config file). */
export interface ConnectionFlags {
  readonly databaseUrl?: string;
  readonly storage?: string;
  readonly json?: boolean;
}

export function addConnectionOptions(command: Command, options: { storage: boolean }): Command {
  command.option('--database-url <url>', 'Postgres URL (env DATABASE_URL)');
  if (options.storage) command.option('--storage <url>', 'storage URL (env LETHE_STORAGE): file:///path or s3://bucket/prefix');
  return command;
}

/**
 * Builds an engine from the resolved configuration, hands it to `fn`, and always closes it (the
 * pool, and the storage worker threads when a command used storage).
 */
export async function withEngine<T>(ctx: CommandContext, flags: ConnectionFlags, fn: (engine: Engine) => Promise<T>): Promise<T> {
  const config = ctx.config({ databaseUrl: flags.databaseUrl, storage: flags.storage });
  const engine = createEngine(engineOptions(config, { logger: ctx.logger(config), threads: config.threads ?? 1 }));
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}
