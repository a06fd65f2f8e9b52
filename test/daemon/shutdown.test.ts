import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDaemonFixture, seedExpired, type DaemonFixture } from './daemon-fixture.js';
import { assertBuilt, eventually, exitWithin, spawnLethe, type LetheProcess } from './daemon-process.js';

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

let fixture: DaemonFixture | null = null;
let daemon: LetheProcess | null = null;

beforeAll(() => assertBuilt());

afterEach(async (ctx) => {
  await daemon?.kill();
  daemon = null;
  await fixture?.cleanup(ctx.task.result?.state === 'fail');
  fixture = null;
});

async function startRunning(f: DaemonFixture, count: number, env: Record<string, string> = {}): Promise<{ p: LetheProcess; runId: string }> {
  await seedExpired(f, count);
  const p = spawnLethe(['daemon'], {
    ...f.env,
    LETHE_SCHEDULE: '*/2 * * * * *',
    LETHE_HTTP_PORT: '0',
    LETHE_BATCH_SIZE: '50',
    LETHE_DELETES_PER_SECOND: '200',
    ...env,
  });
  const started = await p.waitForLine('a run to start', (l) => l.msg === 'daemon run started');
  const runId = String(started.runId);
  await eventually('the run to have erased some files', async () => {
    const { rows } = await f.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM lethe_ledger WHERE run_id = $1', [runId]);
    return rows[0]!.n >= 100;
  });
  return { p, runId };
}

/** Every removed row has exactly one ledger row, every remaining row still has its file. */
async function expectNothingHalfRecorded(f: DaemonFixture, total: number): Promise<number> {
  const left = (await f.db.pool.query<{ id: string; file_key: string }>('SELECT id, file_key FROM jobs')).rows;
  const ledger = (await f.db.pool.query<{ job_id: string; file_key: string }>('SELECT job_id, file_key FROM lethe_ledger')).rows;
  expect(ledger).toHaveLength(total - left.length);
  expect(new Set(ledger.map((l) => l.job_id)).size).toBe(ledger.length);
  const leftIds = new Set(left.map((r) => r.id));
  for (const l of ledger) expect(leftIds.has(l.job_id)).toBe(false);
  for (const r of left) expect(await exists(join(f.root, r.file_key))).toBe(true);
  for (const l of ledger) expect(await exists(join(f.root, l.file_key))).toBe(false);
  return ledger.length;
}

describe('daemon shutdown', () => {
  it('SIGTERM mid-run: drains, records the run interrupted, exits 0 within the timeout', async () => {
    const f = (fixture = await createDaemonFixture('daemon_sigterm'));
    const { p, runId } = await startRunning(f, 1500, { LETHE_SHUTDOWN_TIMEOUT_MS: '10000' });
    daemon = p;
    p.child.kill('SIGTERM');
    const exit = await exitWithin(p, 15_000);
    expect(exit.code).toBe(0);
    expect(exit.elapsedMs).toBeLessThan(10_000);
    expect(p.lines.some((l) => l.msg === 'daemon stopped')).toBe(true);

    const run = await f.db.pool.query<{ status: string; summary: { deleted_count: number } }>('SELECT status, summary FROM lethe_runs WHERE id = $1', [runId]);
    expect(run.rows[0]!.status).toBe('interrupted');
    const deleted = await expectNothingHalfRecorded(f, 1500);
    expect(deleted).toBeGreaterThan(0);
    expect(deleted).toBeLessThan(1500);
    expect(run.rows[0]!.summary.deleted_count).toBe(deleted);
    const audit = await f.db.pool.query(
      `SELECT details->>'status' AS status, (details->>'deleted_count')::int AS deleted FROM audit_logs WHERE action = 'cleanup_expired_jobs'`,
    );
    expect(audit.rows).toEqual([{ status: 'interrupted', deleted }]);
    const beat = await f.db.pool.query('SELECT state, next_run FROM lethe_schedulers');
    expect(beat.rows).toEqual([{ state: 'stopped', next_run: null }]);
    // Every line of the run carries its id.
    const runLines = p.lines.filter((l) => ['run started', 'daemon run started', 'run progress', 'run finished', 'run summary'].includes(l.msg));
    expect(runLines.length).toBeGreaterThanOrEqual(4);
    for (const l of runLines) expect(l.runId).toBe(runId);
  });

  it('a second signal exits at once; the next run records the abandoned one as interrupted', async () => {
    const f = (fixture = await createDaemonFixture('daemon_sigkill'));
    const { p, runId } = await startRunning(f, 1500, { LETHE_DELETES_PER_SECOND: '100' });
    daemon = p;
    p.child.kill('SIGTERM');
    await p.waitForLine('shutdown to begin', (l) => l.msg === 'shutting down');
    p.child.kill('SIGTERM');
    const exit = await exitWithin(p, 10_000);
    expect(exit.code).toBe(130);
    // The first signal stops every batch that has not reached storage (docs/safety.md#races), so
    // the run may have recorded itself interrupted before the second came; if not, it is abandoned.
    const [left] = (await f.db.pool.query<{ status: string }>('SELECT status FROM lethe_runs WHERE id = $1', [runId])).rows;
    expect(['running', 'interrupted']).toContain(left!.status);

    // A hard exit may leave files erased whose rows and ledger rows were not yet written
    // (DESIGN invariant 5: storage first); the next run records them as absent and converges.
    const next = spawnLethe(['run', '--json'], f.env);
    daemon = next;
    expect((await exitWithin(next, 20_000)).code).toBe(0);
    expect((await f.db.pool.query('SELECT status FROM lethe_runs WHERE id = $1', [runId])).rows).toEqual([{ status: 'interrupted' }]);
    expect(await expectNothingHalfRecorded(f, 1500)).toBe(1500);
  });
});
