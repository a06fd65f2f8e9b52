import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawnCli, waitForExit } from '../support/cli.js';
import { faultSeed, filesPresent, insertRows, pollUntil, putFiles } from '../faults/fixtures.js';
import { createSafetyFixture, type SafetyFixture } from './fixture.js';

/**
 * A crash anywhere converges with the undo window on (docs/safety.md#undo-window-default-off): the built CLI is SIGKILLed at
 * seeded points of a run that moves files into the trash, and rerun each time. At every stop no
 * live file is touched and every removed row has exactly one `trashed` ledger row; in the end
 * every expired row is removed, no expired file is at its key, and the trash holds exactly the
 * files the ledger says it holds, each with its original content (no copy lost, none unrecorded).
 */
let f: SafetyFixture;
const N = 1200;

beforeAll(async () => {
  f = await createSafetyFixture('sigkill');
});
afterAll(async () => {
  await f.close();
});

const env = (): Record<string, string> => ({
  DATABASE_URL: f.db.url,
  LETHE_STORAGE: `file://${f.files.root}`,
  LETHE_UNDO_WINDOW: '7d',
  LETHE_BATCH_SIZE: '40',
  LETHE_LOG_LEVEL: 'silent',
  LETHE_THREADS: '2',
});

async function trashedCount(): Promise<number> {
  return (await f.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM lethe_ledger WHERE outcome = 'trashed'`)).rows[0]!.n;
}

async function expectInvariants(expiredIds: readonly string[], liveKeys: readonly string[], context: string): Promise<void> {
  const present = await filesPresent(f.files.root);
  expect(
    liveKeys.filter((k) => !present.has(k)),
    `${context}: live files kept`,
  ).toEqual([]);
  const unrecorded = await f.db.pool.query(
    `SELECT id FROM unnest($1::text[]) AS t(id) WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = t.id)
        AND (SELECT count(*) FROM lethe_ledger l WHERE l.job_id = t.id AND l.outcome = 'trashed') <> 1`,
    [expiredIds],
  );
  expect(unrecorded.rows, `${context}: each removed row has exactly one trashed ledger row`).toEqual([]);
  const locations = await f.db.pool.query<{ trash_location: string }>(`SELECT trash_location FROM lethe_ledger WHERE outcome = 'trashed'`);
  const missing = locations.rows.map((r) => r.trash_location).filter((t) => !present.has(t));
  expect(missing, `${context}: every recorded trash copy exists`).toEqual([]);
}

it('SIGKILL at seeded points during trash moves, rerun each time: nothing lost, nothing unrecorded, nothing unexpired touched', async () => {
  const seed = faultSeed('sigkill-undo');
  const keys = Array.from({ length: N }, (_, i) => `k/${Math.floor(i / 100)}/${i}.pdf`);
  const live = Array.from({ length: 50 }, (_, i) => `live/${i}.pdf`);
  const expiredIds = await insertRows(f.db.pool, 'e', keys, 'General', '40 days', 1);
  await insertRows(f.db.pool, 'l', live, 'General', '1 day');
  await putFiles(f.files.root, [...keys, ...live]);
  // Three kill points, increasing, from the seed (a simple LCG: reproducible with LETHE_FAULT_SEED).
  let s = seed;
  const next = (): number => (s = (s * 1_103_515_245 + 12_345) % 2 ** 31);
  const points = [0, 1, 2].map((i) => Math.floor(((i + (next() % 1000) / 1000) * N) / 4)).sort((a, b) => a - b);
  for (const [n, point] of points.entries()) {
    const child = spawnCli(['run', '--json'], env());
    const exited = waitForExit(child);
    await Promise.race([pollUntil(async () => (await trashedCount()) >= point, 60_000, `${point} trashed rows`), exited]);
    child.kill('SIGKILL');
    await exited;
    await expectInvariants(expiredIds, live, `after kill ${n + 1} (at >= ${point} trashed rows, seed ${seed})`);
  }
  const final = await waitForExit(spawnCli(['run', '--json'], env()));
  expect(final.code, final.stderr).toBe(0);
  await expectInvariants(expiredIds, live, `after the final run (seed ${seed})`);
  const left = await f.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1)`, [expiredIds]);
  expect(left.rows[0]!.n).toBe(0);
  const present = await filesPresent(f.files.root);
  expect(
    keys.filter((k) => present.has(k)),
    'no expired file at its key',
  ).toEqual([]);
  const trash = [...present].filter((p) => p.startsWith('.lethe/trash/')).sort();
  const recorded = (await f.db.pool.query<{ trash_location: string }>(`SELECT DISTINCT trash_location FROM lethe_ledger WHERE outcome = 'trashed'`)).rows
    .map((r) => r.trash_location)
    .sort();
  expect(trash, 'the trash holds exactly what the ledger records').toEqual(recorded);
  expect(trash).toHaveLength(N);
  const sample = trash.filter((_, i) => i % 97 === 0);
  for (const t of sample) expect(await readFile(join(f.files.root, t), 'utf8')).toBe('x');
});
