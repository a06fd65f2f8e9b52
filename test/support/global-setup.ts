import type { TestProject } from 'vitest/node';
import { resolveAdminUrl, stopEmbedded } from './postgres-server.js';

/**
 * Finds the PostgreSQL the tests use: $LETHE_TEST_DATABASE_URL or $DATABASE_URL when set, else the
 * local server on 127.0.0.1:5432 when it answers, else an embedded PostgreSQL from npm (so the suite
 * also runs on a machine with no system server). Each test file then makes its own database.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const url = await resolveAdminUrl();
  project.provide('adminDatabaseUrl', url);
  return async () => {
    await stopEmbedded();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
  }
}
