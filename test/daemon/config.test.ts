import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { assertBuilt, exitWithin, spawnLethe } from './daemon-process.js';

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  assertBuilt();
  db = await createTestDatabase('daemon_config');
  dir = await mkdtemp(join(tmpdir(), 'lethe-daemon-config-'));
});

afterAll(async () => {
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});

describe('lethe daemon refuses bad configuration before doing anything', () => {
  it('exits 2 naming the field and what was expected, for every kind of bad setting', async () => {
    const base = { DATABASE_URL: db.url, LETHE_STORAGE: `file://${dir}` };
    const badFile = join(dir, 'bad.json');
    await writeFile(badFile, JSON.stringify({ schedule: '0 2 * * *', timezone: 7 }));
    const cases: { args: string[]; env: Record<string, string>; message: RegExp }[] = [
      { args: ['--schedule', '0 25 * * *'], env: base, message: /schedule: invalid cron expression "0 25 \* \* \*".*hour/ },
      { args: [], env: { ...base, LETHE_SCHEDULE: 'nightly' }, message: /schedule: invalid cron expression "nightly"/ },
      { args: ['--timezone', 'Asia/Bombay_City'], env: base, message: /timezone: unknown time zone "Asia\/Bombay_City".*IANA/ },
      { args: [], env: { ...base, LETHE_HTTP_PORT: '70000' }, message: /httpPort \(env LETHE_HTTP_PORT\): expected an integer from 0 to 65535, got "70000"/ },
      { args: ['--port', 'http'], env: base, message: /httpPort \(flag\): expected an integer from 0 to 65535, got "http"/ },
      { args: [], env: { ...base, LETHE_OVERLAP: 'queue' }, message: /overlap \(env LETHE_OVERLAP\): expected one of wait, refuse, got "queue"/ },
      { args: [], env: { ...base, LETHE_SHUTDOWN_TIMEOUT_MS: 'soon' }, message: /shutdownTimeoutMs \(env LETHE_SHUTDOWN_TIMEOUT_MS\): expected an integer/ },
      { args: [], env: { DATABASE_URL: db.url }, message: /LETHE_STORAGE: the daemon needs a storage URL/ },
      { args: [], env: { LETHE_STORAGE: `file://${dir}` }, message: /DATABASE_URL: a Postgres connection URL is required/ },
      { args: [], env: { ...base, LETHE_STORAGE: 'ftp://x' }, message: /storage|LETHE_STORAGE/i },
      { args: [], env: { ...base, LETHE_STORAGE: 's3://docs-bucket//tenant-7/' }, message: /LETHE_STORAGE: S3 prefix must not contain empty segments/ },
      { args: [], env: { ...base, LETHE_STORAGE: `file://${dir}/../other` }, message: /LETHE_STORAGE: the storage root must be a normalised absolute path/ },
      { args: ['--config', badFile], env: base, message: /timezone \(config file .*bad\.json\): expected a non-empty string, got 7/ },
    ];
    const results = await Promise.all(
      cases.map(async (c) => {
        const p = spawnLethe(['daemon', ...c.args], { ...c.env, LETHE_HTTP_PORT: c.env.LETHE_HTTP_PORT ?? '0' });
        const exit = await exitWithin(p, 20_000);
        return { exit, stderr: p.stderrText(), started: p.lines.some((l) => l.msg === 'daemon started') };
      }),
    );
    results.forEach((r, i) => {
      expect({ case: i, code: r.exit.code, started: r.started }).toEqual({ case: i, code: 2, started: false });
      expect(r.stderr).toMatch(cases[i]!.message);
    });
    // Nothing was done: no heartbeat, no table created.
    const tables = await db.pool.query(`SELECT to_regclass('lethe_schedulers') AS t`);
    expect(tables.rows).toEqual([{ t: null }]);
  });

  it('exits 1 with a clear message when the database was never migrated', async () => {
    const p = spawnLethe(['daemon', '--port', '0'], { DATABASE_URL: db.url, LETHE_STORAGE: `file://${dir}` });
    const exit = await exitWithin(p, 20_000);
    expect(exit.code).toBe(1);
    expect(p.stderrText()).toMatch(/LETHE_E_NOT_MIGRATED: Lethe's tables are missing in this database: run `lethe migrate` first/);
  });
});
