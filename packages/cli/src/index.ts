export { main } from './program.js';
export type { MainOptions, CommandContext, RegisterCommand } from './program.js';
export { resolveConfig, engineOptions, FIELDS } from './config.js';
export type { LetheConfig } from './config.js';
export { ExitCode, printJson, printLines } from './output.js';
// For commands registered from other packages (the demo): the run summary's human lines, flag parsing.
export { humanSummary, positiveInt } from './commands/run.js';
export { VERSION } from './version.js';
