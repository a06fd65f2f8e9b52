export { main } from './program.js';
export type { MainOptions } from './program.js';
export { resolveConfig, engineOptions, FIELDS } from './config.js';
export type { LetheConfig } from './config.js';
export { ExitCode } from './output.js';
export { VERSION } from './version.js';
