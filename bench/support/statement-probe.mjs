// Preloaded into a `lethe` process by bench/start-up.bench.ts (node --import): counts the
// statements the process sends through node-postgres (every Client#query: pool queries,
// cursors, transactions) and writes `{"statements": N}` to $LETHE_BENCH_PROBE_OUT at exit.
// pg is resolved from the engine package of the build being run ($LETHE_BENCH_ENGINE_PACKAGE, else
// this checkout's packages/engine), as the engine resolves it, so the patched Client is the one the
// run uses. Plain JavaScript: a preload under tsx would add its own start-up.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(process.env.LETHE_BENCH_ENGINE_PACKAGE ?? new URL('../../packages/engine/package.json', import.meta.url));
const pg = require('pg');
let statements = 0;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (...args) {
  statements += 1;
  return query.apply(this, args);
};
process.on('exit', () => {
  if (process.env.LETHE_BENCH_PROBE_OUT) writeFileSync(process.env.LETHE_BENCH_PROBE_OUT, JSON.stringify({ statements }));
});
