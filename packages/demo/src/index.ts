// @lethe/demo: `lethe demo` on an embedded PostgreSQL, registered into the CLI by the `lethe-demo` bin.
export { registerDemo } from './command.js';
export { startEmbeddedPostgres } from './embedded-postgres.js';
export { fileDemoStorage, s3DemoStorage } from './demo-storage.js';
export { seedDemo } from './seed.js';
