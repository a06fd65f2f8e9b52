#!/usr/bin/env node
// `lethe-demo` (what `pnpm demo` runs): the `lethe demo` command on an embedded PostgreSQL from npm.
// It lives in its own package so the runtime CLI and its image do not carry a database.
process.env.UV_THREADPOOL_SIZE ??= '16';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { main } = await import('@lethe/cli');
const { registerDemo } = await import('../dist/index.js');

process.stdout.on('error', (error) => {
  if (error && error.code === 'EPIPE') process.exit(0);
  throw error;
});
const controller = new AbortController();
for (const name of ['SIGINT', 'SIGTERM']) process.once(name, () => controller.abort());

main(['demo', ...process.argv.slice(2)], { signal: controller.signal, commands: [registerDemo] }).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`lethe-demo: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
