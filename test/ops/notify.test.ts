import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createEngine,
  createWebhookNotifier,
  ErrorCodes,
  FileStorage,
  pause,
  readControl,
  resume,
  type Notifier,
  type WebhookNotifierOptions,
} from '@lethe/engine';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';
import { FaultyDeletes } from '../support/faulty-deletes.js';
import { startReceiver, type Receiver } from './support/webhook-receiver.js';

/**
 * Notifications (docs/runbook.md#notifications-webhook), end to end on real Postgres and real files: the engine calls the notifier
 * port where pauses, resumes and run ends happen; the webhook adapter POSTs to a receiver on
 * loopback. Delivery is retried with backoff, and never blocks or fails a run.
 */
let db: TestDatabase;
let files: TempRoot;
let receiver: Receiver | null = null;

beforeAll(async () => {
  db = await createTestDatabase('ops_notify');
  await createJobsTable(db.pool);
  const e = createEngine({ databaseUrl: db.url });
  await e.migrate();
  await e.close();
});
afterAll(async () => {
  await db.drop();
});
beforeEach(async () => {
  files = await createTempRoot('ops-notify');
  await db.pool.query('TRUNCATE jobs, lethe_runs, lethe_ledger, lethe_holds');
  await resume(db.pool, { by: 'test' });
});
afterEach(async () => {
  await receiver?.close();
  receiver = null;
  await files.remove();
});

async function seed(n: number, prefix: string): Promise<string[]> {
  const keys = Array.from({ length: n }, (_, i) => `${prefix}/${i}.pdf`);
  await db.pool.query(
    `INSERT INTO jobs (id, file_key, purpose_code, created_at) SELECT k, k, 'General', (now() AT TIME ZONE 'UTC') - interval '40 days' FROM unnest($1::text[]) k`,
    [keys],
  );
  for (const k of keys) await files.put(k);
  return keys;
}

function webhook(r: Receiver, extra: Partial<WebhookNotifierOptions> = {}): Notifier {
  return createWebhookNotifier({ url: r.url, host: 'pod-a', version: '9.9.9', baseDelayMs: 20, ...extra });
}

describe('notifications through the webhook', () => {
  it('pause and resume (manual) post Slack text and structured fields; a resume of nothing says nothing', async () => {
    receiver = await startReceiver();
    const notifier = webhook(receiver, { headers: { Authorization: 'Bearer s3cret' } });
    await pause(db.pool, { by: 'alice', reason: 'INC-4711: wrong policy' }, notifier);
    await resume(db.pool, { by: 'bob', reason: 'policy v3 verified' }, notifier);
    await resume(db.pool, { by: 'bob' }, notifier);
    await pause(db.pool, { by: 'carol', reason: 'second look' }, notifier);
    const got = await receiver.waitForDelivered(3);
    await notifier.flush(1000);
    const byEvent = Object.fromEntries(got.map((g) => [`${g.body.event}:${g.body.details.by}`, g]));
    expect(Object.keys(byEvent).sort()).toEqual(['paused:alice', 'paused:carol', 'resumed:bob']);
    const paused = byEvent['paused:alice']!;
    expect(paused.headers['content-type']).toBe('application/json');
    expect(paused.headers.authorization).toBe('Bearer s3cret');
    expect(paused.body).toMatchObject({
      event: 'paused',
      severity: 'warning',
      source: 'lethe',
      host: 'pod-a',
      version: '9.9.9',
      details: { cause: 'manual', by: 'alice', reason: 'INC-4711: wrong policy' },
    });
    expect(paused.body.text).toMatch(/^Lethe PAUSED by alice: INC-4711: wrong policy\. Deletions are stopped/);
    expect(Date.parse(paused.body.at)).not.toBeNaN();
    expect(byEvent['resumed:bob']!.body).toMatchObject({
      event: 'resumed',
      severity: 'info',
      details: { by: 'bob', reason: 'policy v3 verified', was_paused_by: 'alice' },
    });
    expect(receiver.received).toHaveLength(3);
  });

  it('a degraded run, the failure breaker (pause + run stopped) and the blast-radius guard each notify', async () => {
    receiver = await startReceiver();
    const notifier = webhook(receiver);
    const root = new FileStorage({ root: files.root });
    const keys = await seed(10, 'd');
    const degraded = createEngine({
      databaseUrl: db.url,
      storage: new FaultyDeletes(root, (k) => (k === keys[0] || k === keys[1] ? 'EIO' : null)),
      notifier,
      threads: 1,
    });
    const s1 = await degraded.run();
    await degraded.close();
    expect(s1).toMatchObject({ status: 'completed', degraded: true, failed_count: 2 });
    const [d] = await receiver.waitForDelivered(1);
    expect(d!.body).toMatchObject({
      event: 'run_degraded',
      severity: 'warning',
      details: { run_id: s1.run_id, status: 'completed', failed_count: 2, deleted_count: 8, failure_codes: ['EIO'] },
    });
    expect(d!.body.text).toContain(`Lethe run ${s1.run_id} completed DEGRADED`);
    expect(JSON.stringify(d!.body)).not.toContain(keys[0]!); // no file keys in a chat channel

    await seed(30, 'b');
    const breaker = createEngine({
      databaseUrl: db.url,
      storage: new FaultyDeletes(root, () => 'EACCES'),
      notifier,
      breakerWindow: 10,
      batchSize: 10,
      threads: 1,
    });
    const s2 = await breaker.run();
    await breaker.close();
    expect(s2.status).toBe('paused');
    const after = await receiver.waitForDelivered(3);
    expect(
      after
        .slice(1)
        .map((g) => g.body.event)
        .sort(),
    ).toEqual(['paused', 'run_paused']);
    expect(after.find((g) => g.body.event === 'paused')!.body).toMatchObject({
      severity: 'critical',
      details: { cause: 'failure_breaker', by: 'lethe:failure-breaker' },
    });
    expect(after.find((g) => g.body.event === 'run_paused')!.body.details).toMatchObject({ run_id: s2.run_id, status: 'paused' });

    await resume(db.pool, { by: 'test' });
    const guarded = createEngine({ databaseUrl: db.url, storage: `file://${files.root}`, notifier, maxDeletesPerRun: 5, threads: 1 });
    await expect(guarded.run()).rejects.toMatchObject({ code: ErrorCodes.BLAST_RADIUS });
    await guarded.close();
    const all = await receiver.waitForDelivered(4);
    expect(all[3]!.body).toMatchObject({ event: 'paused', severity: 'critical', details: { cause: 'blast_radius_guard', by: 'lethe:blast-radius-guard' } });
    expect((await readControl(db.pool)).pausedBy).toBe('lethe:blast-radius-guard');
  });

  it('runs that did not complete: interrupted, died (found by the next run), could not start', async () => {
    receiver = await startReceiver();
    const notifier = webhook(receiver);
    await seed(5, 'i');
    const engine = createEngine({ databaseUrl: db.url, storage: `file://${files.root}`, notifier, threads: 1 });
    try {
      const aborted = new AbortController();
      aborted.abort();
      const s = await engine.run({ signal: aborted.signal });
      expect(s.status).toBe('interrupted');
      await db.pool.query(
        `INSERT INTO lethe_runs (id, trigger, status, host, started_at, heartbeat_at) VALUES ('6f1c2b9e-0000-4000-8000-000000000001', 'schedule', 'running', 'dead-pod', now() - interval '1 hour', now() - interval '1 hour')`,
      );
      const next = await engine.run();
      expect(next.status).toBe('completed');
      const got = await receiver.waitForDelivered(2);
      const of = (id: string) => got.find((g) => g.body.details.run_id === id)!.body;
      expect(of(s.run_id)).toMatchObject({ event: 'run_interrupted', details: { status: 'interrupted' } });
      expect(of('6f1c2b9e-0000-4000-8000-000000000001')).toMatchObject({ event: 'run_interrupted', details: { found_on: expect.any(String) } });
      expect(of('6f1c2b9e-0000-4000-8000-000000000001').text).toMatch(/did not complete: its process stopped before the end/);
    } finally {
      await engine.close();
    }
    const missing = createEngine({ databaseUrl: db.url, storage: `file://${files.root}/does-not-exist`, notifier, threads: 1 });
    try {
      await expect(missing.run()).rejects.toMatchObject({
        code: ErrorCodes.STORAGE,
        message: expect.stringMatching(/storage root .*does-not-exist is not reachable/),
      });
      const failed = (await receiver.waitForDelivered(3)).find((g) => g.body.event === 'run_failed');
      expect(failed!.body).toMatchObject({
        event: 'run_failed',
        severity: 'critical',
        details: { status: 'not_started', error: { code: ErrorCodes.STORAGE } },
      });
      // Nothing was recorded for a run that never started.
      expect((await db.pool.query(`SELECT count(*)::int AS n FROM lethe_runs WHERE status = 'running'`)).rows[0].n).toBe(0);
    } finally {
      await missing.close();
    }
  });
});

describe('delivery', () => {
  it('retries with backoff: a receiver that fails twice (500, 503) then answers gets the same payload three times', async () => {
    receiver = await startReceiver({ statuses: [500, 503, 200] });
    const notifier = webhook(receiver);
    await pause(db.pool, { by: 'alice', reason: 'retry drill' }, notifier);
    await receiver.waitForDelivered(1);
    await notifier.flush(1000);
    expect(receiver.received.map((r) => r.status)).toEqual([500, 503, 200]);
    expect(new Set(receiver.received.map((r) => JSON.stringify(r.body))).size).toBe(1);
    // A 4xx other than 408/429 will not change by repeating it: one attempt only.
    const strict = await startReceiver({ statuses: [400] });
    const once = webhook(strict);
    await resume(db.pool, { by: 'alice' }, once);
    await once.flush(2000);
    expect(strict.received.map((r) => r.status)).toEqual([400]);
    await strict.close();
  });

  it('a receiver that never answers neither slows nor fails a run; closing the engine is bounded', async () => {
    receiver = await startReceiver({ hang: true });
    const notifier = webhook(receiver, { attemptTimeoutMs: 60_000, deadlineMs: 120_000 });
    const keys = await seed(10, 'h');
    const engine = createEngine({
      databaseUrl: db.url,
      storage: new FaultyDeletes(new FileStorage({ root: files.root }), (k) => (k === keys[0] || k === keys[1] ? 'EIO' : null)),
      notifier,
      notifyFlushMs: 300,
      threads: 1,
    });
    const s = await engine.run();
    // The run returned while its notification is still unanswered: it never waited for it.
    expect(s).toMatchObject({ status: 'completed', degraded: true, deleted_count: 8 });
    await expect.poll(() => receiver!.received.length, { timeout: 10_000 }).toBe(1);
    expect(receiver.delivered()).toHaveLength(0);
    const started = Date.now();
    await engine.close();
    expect(Date.now() - started).toBeLessThan(5000);
    // A notifier that throws cannot fail a pause either.
    const broken: Notifier = {
      notify: () => {
        throw new Error('boom');
      },
      flush: async () => {},
    };
    await expect(pause(db.pool, { by: 'alice', reason: 'x' }, broken)).resolves.toMatchObject({ paused: true });
  });
});
