import { Command, CommanderError, Option } from 'commander';
import type { Logger } from '@lethe/engine';
import { resolveConfig, type LetheConfig } from './config.js';
import { createLogger, LOG_FORMATS, resolveLogFormat } from './logger.js';
import { ExitCode, reportError, UsageError, type ExitCodeValue, type Io } from './output.js';
import { colourEnabled, createPalette, type Palette } from './render/colour.js';
import { VERSION } from './version.js';
import { settingHelp } from './setting-help.js';

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
type Register = RegisterCommand;

/**
 * Each top-level command and the module that registers it. A command line that names one loads
 * only that module (and what it imports): `lethe run` does not load the HTTP server, the daemon or
 * the other commands (docs/performance.md#peers). Anything else (help, a typo) loads them all.
 */
const COMMAND_MODULES: Readonly<Record<string, () => Promise<Register>>> = {
  migrate: async () => (await import('./commands/migrate.js')).registerMigrate,
  run: async () => (await import('./commands/run.js')).registerRun,
  serve: async () => (await import('./commands/serve.js')).registerServe,
  status: async () => (await import('./commands/status.js')).registerStatus,
  pause: async () => (await import('./commands/pause.js')).registerPause,
  resume: async () => (await import('./commands/resume.js')).registerResume,
  history: async () => (await import('./commands/history.js')).registerHistory,
  runs: async () => (await import('./commands/runs.js')).registerRuns,
  verify: async () => (await import('./commands/verify.js')).registerVerify,
  lookup: async () => (await import('./commands/lookup.js')).registerLookup,
  reconcile: async () => (await import('./commands/reconcile.js')).registerReconcile,
  report: async () => (await import('./commands/report.js')).registerReport,
  policies: async () => (await import('./commands/policies.js')).registerPolicies,
  plan: async () => (await import('./commands/plan.js')).registerPlan,
  restore: async () => (await import('./commands/restore.js')).registerRestore,
  hold: async () => (await import('./commands/holds.js')).registerHolds,
  holds: async () => (await import('./commands/holds.js')).registerHolds,
  unhold: async () => (await import('./commands/holds.js')).registerHolds,
  purge: async () => (await import('./commands/purge.js')).registerPurge,
  'verify-ledger': async () => (await import('./commands/verify-ledger.js')).registerVerifyLedger,
  prune: async () => (await import('./commands/prune.js')).registerPrune,
  ledger: async () => (await import('./commands/ledger.js')).registerLedger,
  replay: async () => (await import('./commands/replay.js')).registerReplay,
  doctor: async () => (await import('./commands/doctor.js')).registerDoctor,
  erasures: async () => (await import('./commands/erasures.js')).registerErasures,
  erase: async () => (await import('./commands/requests.js')).registerRequests,
  requests: async () => (await import('./commands/requests.js')).registerRequests,
  daemon: async () => (await import('./commands/daemon.js')).registerDaemon,
};

/** Every command, in the order `lethe --help` lists them. */
async function allCommands(): Promise<Register[]> {
  const [migrate, run, serve, operations, safety, incident, daemon] = await Promise.all([
    import('./commands/migrate.js'),
    import('./commands/run.js'),
    import('./commands/serve.js'),
    import('./commands/operations.js'),
    import('./commands/safety.js'),
    import('./commands/incident.js'),
    import('./commands/daemon.js'),
  ]);
  return [
    migrate.registerMigrate,
    run.registerRun,
    serve.registerServe,
    operations.registerOperations,
    safety.registerSafety,
    incident.registerIncident,
    daemon.registerDaemon,
  ];
}

/** The command a command line names (the first word that is not an option or `-c`'s value), or null. */
function commandNamed(argv: readonly string[]): string | null {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-c' || arg === '--config') i += 1;
    else if (arg.startsWith('-')) {
      if (!arg.startsWith('--config=')) return null;
    } else return Object.hasOwn(COMMAND_MODULES, arg) ? arg : null;
  }
  return null;
}

/** The program for a command line: only the named command's module, or every command. */
export async function buildProgram(ctx: CommandContext, argv: readonly string[] = [], extra: readonly RegisterCommand[] = []): Promise<Command> {
  const program = new Command('lethe')
    .description('Lethe: retention deletion for documents (DPDP Act 2023), fast, safe and provable')
    .version(VERSION, '-V, --version')
    .option('-c, --config <file>', settingHelp('config'))
    .addOption(
      new Option('--log-format <format>', 'logs on stderr: auto = human lines on a terminal, JSON lines (ISO time) otherwise (env LETHE_LOG_FORMAT)').choices(
        LOG_FORMATS,
      ),
    )
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.io.stdout.write(s), writeErr: (s) => ctx.io.stderr.write(s) });
  const name = commandNamed(argv);
  const registers = name === null ? await allCommands() : [await COMMAND_MODULES[name]!()];
  for (const register of registers) register(program, ctx);
  if (extra.length === 0 && name === null) registerDemoPointer(program);
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
    logger: (config, fallbackLevel = 'warn') =>
      createLogger(config.logLevel ?? fallbackLevel, {
        format: resolveLogFormat(logFormatFlag, io.env.LETHE_LOG_FORMAT, io.stderr.isTTY === true),
        colour: colourEnabled(io.stderr, io.env),
      }),
    setExit: (code) => {
      exit = code;
    },
  };
  const program = await buildProgram(ctx, argv, options.commands ?? []);
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
      throw new UsageError(
        'the demo ships in its own package (@lethe/demo, so the runtime CLI carries no database): run `pnpm demo` in the repository, or `lethe-demo`',
      );
    });
}
