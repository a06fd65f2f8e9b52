import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acknowledgeNotice, createEngine, listUnacknowledgedNotices, runErasureRequest, submitErasureRequest, type Engine } from '@lethe/engine';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';

/**
 * Processors (docs/rights.md#processors): a completed request notifies each configured webhook
 * with its reference and the erased keys hashed; each notice and its acknowledgement is recorded;
 * the unacknowledged ones are listed. One receiver answers 200, the other 503.
 */
let db: TestDatabase;
let files: TempRoot;
let engine: Engine;
let server: Server;
const received: { path: string; body: Record<string, unknown> }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (d) => (text += d));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: JSON.parse(text) });
      res.statusCode = req.url === '/down' ? 503 : 200;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  db = await createTestDatabase('erasure_processors');
  files = await createTempRoot('erasure-processors');
  await createJobsTable(db.pool);
  await db.pool.query(
    `INSERT INTO jobs (id, file_key, purpose_code, created_at) VALUES ('j1', 'p/1.pdf', 'General', now()), ('j2', 'p/2.pdf', 'General', now())`,
  );
  await files.put('p/1.pdf');
  await files.put('p/2.pdf');
  engine = createEngine({
    databaseUrl: db.url,
    storage: `file://${files.root}`,
    threads: 1,
    erasure: {
      processors: [
        { name: 'payroll', url: `${base}/ok` },
        { name: 'mailer', url: `${base}/down` },
      ],
    },
  });
  await engine.migrate();
});

afterAll(async () => {
  await engine.close();
  await db.drop();
  await files.remove();
  await new Promise<void>((r) => server.close(() => r()));
});

const sha = (k: string) => `sha256:${createHash('sha256').update(k).digest('hex')}`;

describe('processor notices', () => {
  it('sends the reference and hashed keys, records delivery and acknowledgements, lists the unacknowledged', async () => {
    await submitErasureRequest(engine, {
      reference: 'PROC-1',
      target: { kind: 'job', values: ['j1', 'j2'] },
      requestedBy: 'p',
      reason: 'request',
      submittedBy: 'dpo',
    });
    const done = await runErasureRequest(engine, 'PROC-1');
    expect(done.request.state).toBe('completed');
    expect(received.map((r) => r.path).sort()).toEqual(['/down', '/ok']);
    for (const r of received) {
      expect(r.body).toMatchObject({
        event: 'erasure_request_completed',
        reference: 'PROC-1',
        reason: 'request',
        hashed_keys: [sha('p/1.pdf'), sha('p/2.pdf')],
      });
      expect(JSON.stringify(r.body)).not.toContain('p/1.pdf');
    }
    const pending = await listUnacknowledgedNotices(engine);
    expect(pending.map((n) => [n.reference, n.processor, n.status, n.error]).sort()).toEqual([
      ['PROC-1', 'mailer', 'failed', 'HTTP 503'],
      ['PROC-1', 'payroll', 'sent', null],
    ]);
    const ack = await acknowledgeNotice(engine, 'PROC-1', 'payroll', 'vendor-ticket-88');
    expect(ack).toMatchObject({ processor: 'payroll', acknowledged_by: 'vendor-ticket-88' });
    expect(ack.acknowledged_at).not.toBeNull();
    expect((await listUnacknowledgedNotices(engine)).map((n) => n.processor)).toEqual(['mailer']);
    await expect(acknowledgeNotice(engine, 'PROC-1', 'nobody', 'x')).rejects.toThrow(/has no notice to "nobody"/);
    // The record carries the notices.
    const again = await runErasureRequest(engine, 'PROC-1');
    expect(again.record.processors.map((p) => [p.processor, p.acknowledged_at !== null])).toEqual([
      ['mailer', false],
      ['payroll', true],
    ]);
  });
});
