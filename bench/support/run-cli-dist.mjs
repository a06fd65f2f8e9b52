// Runs a CLI build's unbundled dist/ (not the bundle the `lethe` bin loads) with the given
// arguments, as the bin does: bench/start-up.bench.ts counts statements with this, because the
// bundle carries its own copy of node-postgres that statement-probe.mjs cannot patch. The source
// is the same, so the run sends the same statements.
//   node --import ./statement-probe.mjs run-cli-dist.mjs <packages/cli/dist/index.js> run
import { pathToFileURL } from 'node:url';

process.env.UV_THREADPOOL_SIZE ??= '16';
const [entry, ...args] = process.argv.slice(2);
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(args, { signal: new AbortController().signal });
