import { Command, CommanderError } from 'commander';
import type { Logger } from '@lethe/engine';
import { resolveConfig, type LetheConfig } from './config.js';
import { createLogger } from './logger.js';
import { ExitCode, reportError, type ExitCodeValue, type Io } from './output.js';
import { VERSION } from './version.js';

/** What every command gets: configuration resolution, a logger, output streams, the exit code. */
export interface CommandContext {
  readonly io: Io;
  readonly signal?: AbortSignal;
  config(flags: Record<string, unknown>): LetheConfig;
  logger(config: LetheConfig, fallbackLevel?: string): Logger;
  setExit(code: ExitCodeValue): void;
}

type Register = (program: Command, ctx: CommandContext) => void;

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
  doctor: async () => (await import('./commands/doctor.js')).registerDoctor,
  erasures: async () => (await import('./commands/erasures.js')).registerErasures,
  demo: async () => (await import('./commands/demo.js')).registerDemo,
  daemon: async () => (await import('./commands/daemon.js')).registerDaemon,
};

/** Every command, in the order `lethe --help` lists them. */
async function allCommands(): Promise<Register[]> {
  const [migrate, run, serve, operations, safety, incident, demo, daemon] = await Promise.all([
    import('./commands/migrate.js'), import('./commands/run.js'), import('./commands/serve.js'), import('./commands/operations.js'),
    import('./commands/safety.js'), import('./commands/incident.js'), import('./commands/demo.js'), import('./commands/daemon.js'),
  ]);
  return [migrate.registerMigrate, run.registerRun, serve.registerServe, operations.registerOperations, safety.registerSafety, incident.registerIncident, demo.registerDemo, daemon.registerDaemon];
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
export async function buildProgram(ctx: CommandContext, argv: readonly string[] = []): Promise<Command> {
  const program = new Command('lethe')
    .description('Lethe: retention deletion for documents (DPDP Act 2023), fast, safe and provable')
    .version(VERSION, '-V, --version')
    .option('-c, --config <file>', 'JSON config file (env LETHE_CONFIG)')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.io.stdout.write(s), writeErr: (s) => ctx.io.stderr.write(s) });
  const name = commandNamed(argv);
  const registers = name === null ? await allCommands() : [await COMMAND_MODULES[name]!()];
  for (const register of registers) register(program, ctx);
  return program;
}

export interface MainOptions {
  readonly io?: Io;
  readonly signal?: AbortSignal;
}

/** Runs one command line; resolves to the exit code (never calls process.exit). */
export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  const io: Io = options.io ?? { stdout: process.stdout, stderr: process.stderr, env: process.env };
  let exit: ExitCodeValue = ExitCode.OK;
  let globalConfigFile: string | undefined;
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
    logger: (config, fallbackLevel = 'warn') => createLogger(config.logLevel ?? fallbackLevel),
    setExit: (code) => {
      exit = code;
    },
  };
  const program = await buildProgram(ctx, argv);
  program.hook('preAction', (root) => {
    globalConfigFile = root.opts<{ config?: string }>().config;
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
