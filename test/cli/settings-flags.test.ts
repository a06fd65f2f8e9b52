import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { lethe } from './support/cli.js';

/**
 * README's settings table (database url, storage, batch size, deletes per second, threads,
 * config) promises each setting as a flag on every command that needs it: `lethe migrate
 * --database-url URL` said "unknown option". No DATABASE_URL or LETHE_STORAGE in the environment.
 */
let db: TestDatabase;
let root: string;
let configFile: string;

beforeAll(async () => {
  db = await createTestDatabase('cli_settings_flags');
  root = await mkdtemp(join(tmpdir(), 'lethe-settings-flags-'));
  await createJobsTable(db.pool);
  configFile = join(root, 'lethe.json');
  await writeFile(configFile, JSON.stringify({ batchSize: 500 }));
});

afterAll(async () => {
  await db?.drop();
  await rm(root, { recursive: true, force: true });
});

const RUN_ID = '3f2b9c1e-0000-4000-8000-000000000000';
const db_ = (): string[] => ['--database-url', db.url];
const st = (): string[] => ['--storage', `file://${root}`, '--threads', '1'];
const batch = ['--batch-size', '200'];

/** Each command that needs the database, with every setting flag it needs; migrate first. */
const COMMANDS: readonly [string, () => string[]][] = [
  ['migrate', () => ['migrate', ...db_()]],
  ['migrate -c', () => ['migrate', '-c', configFile, ...db_()]],
  ['run', () => ['run', '--dry-run', ...db_(), ...st(), ...batch, '--deletes-per-second', '100']],
  ['status', () => ['status', ...db_()]],
  ['pause', () => ['pause', '--reason', 'flags test', ...db_()]],
  ['resume', () => ['resume', ...db_()]],
  ['history', () => ['history', ...db_()]],
  ['runs show', () => ['runs', 'show', RUN_ID, ...db_()]],
  ['verify', () => ['verify', ...db_(), ...st(), ...batch]],
  ['lookup', () => ['lookup', 'a.pdf', ...db_(), ...st()]],
  ['reconcile', () => ['reconcile', ...db_(), ...st(), ...batch]],
  ['report', () => ['report', '--month', '2025-11', ...db_(), ...st()]],
  ['policies', () => ['policies', ...db_()]],
  ['policies history', () => ['policies', 'history', ...db_()]],
  ['plan', () => ['plan', ...db_(), ...batch]],
  ['doctor', () => ['doctor', ...db_(), ...st()]],
  ['erasures', () => ['erasures', ...db_(), ...batch]],
  ['hold', () => ['hold', 'a.pdf', '--reason', 'flags test', ...db_()]],
  ['holds', () => ['holds', ...db_()]],
  ['unhold', () => ['unhold', 'a.pdf', ...db_()]],
  ['purge', () => ['purge', ...db_(), ...st()]],
  ['verify-ledger', () => ['verify-ledger', ...db_(), ...st()]],
  ['restore', () => ['restore', 'a.pdf', ...db_(), ...st()]],
  ['prune', () => ['prune', '--older-than', '2y', ...db_()]],
  // Long-running: an out-of-range port stops them after the flags are parsed and the config read.
  ['serve', () => ['serve', '--port', '70000', ...db_(), ...st(), ...batch, '--deletes-per-second', '100']],
  ['daemon', () => ['daemon', '--port', '70000', ...db_(), ...st(), ...batch, '--deletes-per-second', '100']],
];

describe('every setting in README works as a flag on every command that needs it', () => {
  it.each(COMMANDS)('lethe %s', async (name, args) => {
    const r = await lethe(args(), { USER: 'oncall' });
    expect(r.stderr, name).not.toMatch(/unknown option|too many arguments/);
    expect(r.stderr, name).not.toMatch(/DATABASE_URL: a Postgres connection URL is required/);
    if (name === 'serve' || name === 'daemon') {
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/httpPort \(flag\)/);
    } else expect(r.stderr, name).not.toMatch(/LETHE_E_INTERNAL|TypeError/);
  });
});
