import { Command, CommanderError, Option } from 'commander';
import type { Logger } from '@lethe/engine';
import { registerDaemon } from './commands/daemon.js';
import { registerIncident } from './commands/incident.js';
import { registerMigrate } from './commands/migrate.js';
import { registerOperations } from './commands/operations.js';
import { registerRun } from './commands/run.js';
import { registerSafety } from './commands/safety.js';
import { registerServe } from './commands/serve.js';
import { resolveConfig, type LetheConfig } from './config.js';
import { createLogger, LOG_FORMATS, resolveLogFormat } from './logger.js';
import { ExitCode, reportError, UsageError, type ExitCodeValue, type Io } from './output.js';
import { colourEnabled, createPalette, type Palette } from './render/colour.js';
import { VERSION } from './version.js';

/** What every command gets: configuration resolution, a logger, output streams, the exit code. */
export interface CommandContext {
  readonly io: Io;
  readonly signal?: AbortSignal;
  /** Colours for human output on stdout (off unless stdout is a terminal and NO_COLOR is unset). */
  readonly paint: Palette;
  config(flags: Record<string, unknown>): LetheConfig;
  logger(config: LetheConfig, fallbackLevel?: string): Logger;
  setExit(code: ExitCodeValue): void;
}

/** Registers one command on the program (the demo package adds `demo` this way). */
export type RegisterCommand = (program: Command, ctx: CommandContext) => void;

export function buildProgram(ctx: CommandContext, extra: readonly RegisterCommand[] = []): Command {
  const program = new Command('lethe')
    .description('Lethe: retention deletion for documents (DPDP Act 2023), fast, safe and provable')
    .version(VERSION, '-V, --version')
    .option('-c, --config <file>', 'JSON config file (env LETHE_CONFIG)')
    .addOption(new Option('--log-format <format>', 'logs on stderr: auto = human lines on a terminal, JSON lines (ISO time) otherwise (env LETHE_LOG_FORMAT)').choices(LOG_FORMATS))
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.io.stdout.write(s), writeErr: (s) => ctx.io.stderr.write(s) });
  registerMigrate(program, ctx);
  registerRun(program, ctx);
  registerServe(program, ctx);
  registerOperations(program, ctx);
  registerSafety(program, ctx);
  registerIncident(program, ctx);
  registerDaemon(program, ctx);
  if (extra.length === 0) registerDemoPointer(program);
  for (const register of extra) register(program, ctx);
  return program;
}

export interface MainOptions {
  readonly io?: Io;
  readonly signal?: AbortSignal;
  /** More commands to register (the demo package's `demo`). */
  readonly commands?: readonly RegisterCommand[];
}

/** Runs one command line; resolves to the exit code (never calls process.exit). */
export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  const io: Io = options.io ?? { stdout: process.stdout, stderr: process.stderr, env: process.env };
  let exit: ExitCodeValue = ExitCode.OK;
  let globalConfigFile: string | undefined;
  let logFormatFlag: string | undefined;
  /** The database the command was configured for, to name it when it cannot be reached. */
  let databaseUrl: string | undefined;
  const ctx: CommandContext = {
    io,
    ...(options.signal ? { signal: options.signal } : {}),
    config: (flags) => {
      const config = resolveConfig({ flags: { ...flags, ...(globalConfigFile ? { config: globalConfigFile } : {}) }, env: io.env });
      databaseUrl = config.databaseUrl;
      return config;
    },
    paint: createPalette(colourEnabled(io.stdout, io.env)),
    logger: (config, fallbackLevel = 'warn') => createLogger(config.logLevel ?? fallbackLevel, {
      format: resolveLogFormat(logFormatFlag, io.env.LETHE_LOG_FORMAT, io.stderr.isTTY === true),
      colour: colourEnabled(io.stderr, io.env),
    }),
    setExit: (code) => {
      exit = code;
    },
  };
  const program = buildProgram(ctx, options.commands ?? []);
  program.hook('preAction', (root) => {
    const opts = root.opts<{ config?: string; logFormat?: string }>();
    globalConfigFile = opts.config;
    logFormatFlag = opts.logFormat;
    // A malformed LETHE_LOG_FORMAT is bad configuration for every command: exit 2 before acting.
    resolveLogFormat(logFormatFlag, io.env.LETHE_LOG_FORMAT, io.stderr.isTTY === true);
  });
  const json = argv.includes('--json');
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exit;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return ExitCode.OK;
      return ExitCode.USAGE;
    }
    return reportError(io, error, json, databaseUrl);
  }
}

/** `lethe demo` without the demo package: say where the demo is instead of "unknown command". */
function registerDemoPointer(program: Command): void {
  program
    .command('demo', { hidden: true })
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw new UsageError('the demo ships in its own package (@lethe/demo, so the runtime CLI carries no database): run `pnpm demo` in the repository, or `lethe-demo`');
    });
}
