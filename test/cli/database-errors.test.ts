import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { lethe } from './support/cli.js';

/**
 * Every command explains a database it cannot use, in one line, instead of the driver's raw
 * `connect ECONNREFUSED ...` or `42P01: relation "lethe_control" does not exist`.
 */
let unmigrated: TestDatabase;

beforeAll(async () => {
  unmigrated = await createTestDatabase('cli_db_errors');
  await createJobsTable(unmigrated.pool);
});

afterAll(async () => {
  await unmigrated?.drop();
});

const COMMANDS: readonly (readonly string[])[] = [
  ['status'],
  ['history'],
  ['pause', '--reason', 'x'],
  ['resume'],
  ['plan'],
  ['policies'],
  ['runs', 'show', '3f2b9c1e-0000-4000-8000-000000000000'],
  ['holds'],
  ['erasures'],
];

describe('the database is down', () => {
  it.each(COMMANDS)('lethe %s names the address and what to check, exit 1', async (...args) => {
    const r = await lethe(args, { DATABASE_URL: 'postgres://postgres:secret@127.0.0.1:1/lethe' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'lethe: LETHE_E_DATABASE: cannot connect to the database at 127.0.0.1:1 (connection refused): is PostgreSQL running and DATABASE_URL right?\n',
    );
  });

  it('with --json the code is in the JSON too', async () => {
    const r = await lethe(['status', '--json'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/lethe' });
    expect(r.code).toBe(1);
    expect(r.json()).toMatchObject({ error: { code: 'LETHE_E_DATABASE' } });
  });
});

describe('the database is not migrated', () => {
  it.each(COMMANDS)('lethe %s says to run lethe migrate first, exit 1', async (...args) => {
    const r = await lethe(args, { DATABASE_URL: unmigrated.url });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^lethe: LETHE_E_NOT_MIGRATED: Lethe's tables are missing in this database \(relation "lethe_\w+" does not exist\): run `lethe migrate` first\n$/,
    );
  });
});
