// The `lethe` bin runs this bundle (docs/performance.md#start-up): the CLI, the engine, the
// daemon, the HTTP server and their dependencies as ~60 ES module chunks instead of several
// hundred files, each command still loaded only when named (code splitting keeps every dynamic
// import a chunk of its own). Left outside: piscina (its workers load `worker.js`, written here
// beside the chunks, by file name) and the AWS SDK (large, S3 only, loaded on first use); both
// are dependencies of this package so they resolve from `bundle/`. pino is loaded through
// createRequire (logger.ts) and resolves the same way.
//   node scripts/bundle.mjs        (the package's build runs it after tsc)
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const EXTERNAL = /^(piscina|@aws-sdk\/|@smithy\/|pg-native$)/;
const outdir = here('../bundle');

await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: {
    index: here('../dist/index.js'),
    // worker-pool.ts starts its workers on `./worker.js` next to its own module.
    worker: fileURLToPath(import.meta.resolve('@lethe/engine').replace(/index\.js$/, 'storage/pool/worker.js')),
  },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  plugins: [
    {
      name: 'lethe-external',
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (a) => (EXTERNAL.test(a.path) ? { path: a.path, external: true } : undefined));
      },
    },
  ],
  // Bundled CommonJS (node-postgres) requires Node's built-ins: give the ES module chunks a require.
  banner: { js: "import { createRequire as __letheCreateRequire } from 'node:module'; const require = __letheCreateRequire(import.meta.url);" },
});
