import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pause } from '@lethe/engine';
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

describe('pause (EMERGENCY-001) with a daemon running', () => {
  it('a pause mid-run stops it at a batch boundary with status paused, then fires are skipped and health says so', async () => {
    const f = (fixture = await createDaemonFixture('daemon_pause'));
    const keys = await seedExpired(f, 1500);
    daemon = spawnLethe(['daemon', '--schedule', '*/2 * * * * *', '--port', '0'], {
      ...f.env,
      LETHE_BATCH_SIZE: '50',
      LETHE_DELETES_PER_SECOND: '200',
    });
    const http = await daemon.waitForLine('http listening', (l) => l.msg.startsWith('http listening'));
    const started = await daemon.waitForLine('a run to start', (l) => l.msg === 'daemon run started');
    const runId = String(started.runId);
    await eventually('the run to have erased some files', async () => {
      const { rows } = await f.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM lethe_ledger WHERE run_id = $1', [runId]);
      return rows[0]!.n >= 100;
    });

    await pause(f.db.pool, { by: 'oncall@platform', reason: 'EMERGENCY-001 drill' });

    const summary = await daemon.waitForLine('the run summary', (l) => l.msg === 'run summary' && l.runId === runId);
    expect(summary.status).toBe('paused');
    // The next fire is skipped, and the log says who paused and why.
    const skip = await daemon.waitForLine('a skipped fire', (l) => String(l.msg).startsWith('paused: skipping the scheduled run'));
    expect(skip).toMatchObject({ pausedBy: 'oncall@platform', reason: 'EMERGENCY-001 drill' });
    await daemon.waitForLine('the pause noticed in the log', (l) => String(l.msg).startsWith('Lethe is paused'));
    const health = await fetch(`http://127.0.0.1:${Number(http.port)}/api/health/cleanup`);
    expect(await health.json()).toMatchObject({ paused: true, pause_reason: 'EMERGENCY-001 drill', scheduler_running: true });

    daemon.child.kill('SIGTERM');
    expect((await exitWithin(daemon, 20_000)).code).toBe(0);

    // Nothing half-recorded: the run's row, its audit row and its ledger agree with what was removed.
    const run = await f.db.pool.query<{ status: string }>('SELECT status FROM lethe_runs WHERE id = $1', [runId]);
    expect(run.rows).toEqual([{ status: 'paused' }]);
    const audit = await f.db.pool.query<{ details: { status: string; deleted_count: number } }>(
      `SELECT details FROM audit_logs WHERE action = 'cleanup_expired_jobs' AND details->>'run_id' = $1`,
      [runId],
    );
    expect(audit.rows).toHaveLength(1);
    const left = (await f.db.pool.query<{ id: string; file_key: string }>('SELECT id, file_key FROM jobs')).rows;
    const ledger = (await f.db.pool.query<{ job_id: string; outcome: string }>('SELECT job_id, outcome FROM lethe_ledger WHERE run_id = $1', [runId])).rows;
    expect(left.length).toBeGreaterThan(0);
    expect(audit.rows[0]!.details).toMatchObject({ status: 'paused', deleted_count: keys.length - left.length });
    expect(ledger).toHaveLength(keys.length - left.length);
    expect(ledger.every((l) => l.outcome === 'erased')).toBe(true);
    const leftIds = new Set(left.map((r) => r.id));
    for (const l of ledger) expect(leftIds.has(l.job_id)).toBe(false);
    for (const r of left.slice(0, 50)) expect(await exists(join(f.root, r.file_key))).toBe(true);
    for (const l of ledger.slice(0, 50)) expect(await exists(join(f.root, `e/${l.job_id.slice(2)}.pdf`))).toBe(false);
    // Only the one run: the paused fires after it started nothing.
    expect((await f.db.pool.query(`SELECT 1 FROM lethe_runs WHERE NOT dry_run`)).rowCount).toBe(1);
    const pauses = await f.db.pool.query(`SELECT details->>'by' AS by FROM audit_logs WHERE action = 'cleanup_paused'`);
    expect(pauses.rows).toEqual([{ by: 'oncall@platform' }]);
  });
});
