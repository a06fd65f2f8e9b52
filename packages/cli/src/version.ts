import { readFileSync } from 'node:fs';

/** Lethe's version, from this package's package.json (recorded with every run). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
