#!/usr/bin/env node
// The `lethe` command: a thin launcher for the bundled CLI (build with `pnpm build`).
// libuv's thread pool (4 threads by default) bounds filesystem unlinks: give it room unless set.
process.env.UV_THREADPOOL_SIZE ??= '16';
// The AWS SDK warns on every S3 command that a future release needs a newer Node
// (NodeVersionSupportWarning, @aws-sdk/core emitWarningIfUnsupportedVersion): noise for an
// operator, and it breaks stderr-clean scripts. The SDK's own switch; set it to "false" to see it.
// Set before anything loads so storage worker threads, which copy this env, inherit it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// The bundle of dist/ (scripts/bundle.mjs, made by the build): fewer files to load on every start.
const { main } = await import('../bundle/index.js');

// A reader that stops early (`lethe plan --within 48h | head -1`) closes the pipe: writes then
// fail with EPIPE, which Node raises as an unhandled 'error' with a stack trace. Unix tools die
// quietly on SIGPIPE; do the same and exit 0 at once (nothing more can be shown; a run in flight
// is crash-safe and the next run records it). Other stdout errors still surface.
process.stdout.on('error', (error) => {
  if (error && error.code === 'EPIPE') process.exit(0);
  throw error;
});

// First SIGINT/SIGTERM: stop taking batches, drain those in flight, record the run. Second: exit now.
const controller = new AbortController();
let signals = 0;
for (const name of ['SIGINT', 'SIGTERM']) {
  process.on(name, () => {
    signals += 1;
    if (signals > 1) process.exit(130);
    process.stderr.write(`lethe: ${name} received; finishing batches in flight (send again to exit at once)\n`);
    controller.abort();
  });
}

main(process.argv.slice(2), { signal: controller.signal }).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`lethe: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
