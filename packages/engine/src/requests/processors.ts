import { createHash } from 'node:crypto';
import type { Engine } from '../engine.js';
import { ConfigError, describeError, ErrorCodes, LetheError } from '../errors.js';
import type { CompletionRecord } from './completion-record.js';
import { requireRequest, type ErasureRequest } from './request-store.js';
import { loadUndici } from '../notify/undici.js';

/**
 * Processors (docs/rights.md#processors): each configured processor (one webhook each) is told of
 * a completed request, with its reference and the erased keys hashed (SHA-256 of the key as the
 * ledger holds it), so it can erase its copies without learning anything else. Each notice is
 * recorded (`lethe_erasure_notices`) with its delivery status; the processor's acknowledgement is
 * recorded with `lethe requests ack`; `lethe requests unacknowledged` lists the rest.
 */
export interface ProcessorNotice {
  readonly reference: string;
  readonly processor: string;
  readonly status: string;
  readonly sent_at: string | null;
  readonly error: string | null;
  readonly acknowledged_at: string | null;
  readonly acknowledged_by: string | null;
}

const TIMEOUT_MS = 10_000;

export async function notifyProcessors(engine: Engine, r: ErasureRequest, record: CompletionRecord): Promise<void> {
  const processors = engine.options.erasure.processors;
  if (processors.length === 0) return;
  const { rows } = await engine.pool.query<{ file_key: string }>(
    `SELECT DISTINCT file_key FROM lethe_ledger WHERE request_ref = $1 AND outcome IN ('erased', 'absent', 'trashed', 'unlinked') ORDER BY 1`,
    [r.reference],
  );
  const body = JSON.stringify({
    source: 'lethe',
    event: 'erasure_request_completed',
    reference: r.reference,
    reason: r.reason,
    completed_at: record.completed_at,
    hashed_keys: rows.map((k) => `sha256:${createHash('sha256').update(k.file_key).digest('hex')}`),
  });
  await Promise.all(
    processors.map(async (p) => {
      let status = 'sent';
      let error: string | null = null;
      try {
        // undici (~100 ms to import) only when a notice is sent, not with every run (docs/performance.md#start-up).
        const { request } = await loadUndici();
        const res = await request(p.url, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
          headersTimeout: TIMEOUT_MS,
          bodyTimeout: TIMEOUT_MS,
        });
        await res.body.dump();
        if (res.statusCode >= 300) [status, error] = ['failed', `HTTP ${res.statusCode}`];
      } catch (e) {
        [status, error] = ['failed', describeError(e)];
      }
      await engine.pool.query(
        `INSERT INTO lethe_erasure_notices (request_id, processor, sent_at, status, error) VALUES ($1, $2, now(), $3, $4)
       ON CONFLICT (request_id, processor) DO UPDATE SET sent_at = now(), status = EXCLUDED.status, error = EXCLUDED.error`,
        [r.id, p.name, status, error],
      );
    }),
  );
}

export async function acknowledgeNotice(engine: Engine, reference: string, processor: string, by: string): Promise<ProcessorNotice> {
  if (typeof by !== 'string' || by.trim() === '') throw new ConfigError('by: who recorded the acknowledgement is required');
  const r = await requireRequest(engine.pool, reference);
  const { rows } = await engine.pool.query<ProcessorNotice>(
    `UPDATE lethe_erasure_notices SET acknowledged_at = coalesce(acknowledged_at, now()), acknowledged_by = coalesce(acknowledged_by, $3)
      WHERE request_id = $1 AND processor = $2 RETURNING ${noticeColumns('$4')}`,
    [r.id, processor, by.trim(), reference],
  );
  if (!rows[0]) throw new LetheError(ErrorCodes.NOT_FOUND, `processor: request ${JSON.stringify(reference)} has no notice to ${JSON.stringify(processor)}`);
  return rows[0];
}

export async function listUnacknowledgedNotices(engine: Pick<Engine, 'pool'>): Promise<ProcessorNotice[]> {
  const { rows } = await engine.pool.query<ProcessorNotice>(
    `SELECT ${noticeColumns('q.reference')} FROM lethe_erasure_notices n JOIN lethe_erasure_requests q ON q.id = n.request_id
      WHERE n.acknowledged_at IS NULL ORDER BY n.sent_at NULLS FIRST, q.reference, n.processor`,
  );
  return rows;
}

function noticeColumns(reference: string): string {
  const ts = (c: string): string => `to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ${c.replace(/^.*\./, '')}`;
  return `${reference}::text AS reference, processor, status, ${ts('sent_at')}, error, ${ts('acknowledged_at')}, acknowledged_by`;
}
