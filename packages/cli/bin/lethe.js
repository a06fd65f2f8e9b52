#!/usr/bin/env node
// The `lethe` command: a thin launcher for the compiled CLI (build with `pnpm build`).
import { main } from '../dist/index.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`lethe: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
