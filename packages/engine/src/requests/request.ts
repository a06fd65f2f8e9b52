import { ConfigError } from '../errors.js';

/**
 * Erasure on request (docs/rights.md): a data principal asks for their data to go (DPDP s.12(3))
 * or withdraws consent (s.6(4)). Glossary:
 *
 * - reference: the request's ticket id; a second submission with the same reference returns the
 *   stored request (idempotent) and never makes a second one.
 * - target: what the request names: job ids (`job`), file keys (`key`), or data-principal
 *   identifiers matched against the configured column of `jobs` (`principal`, e.g. `user_id`).
 * - due: the deadline (received + the configured period, or the one given). An open request past
 *   it is overdue: health says so, metrics count it, an alert fires.
 * - refusal: a named row kept because its purpose declares a retention duty (`retainedUnder`) or
 *   its file is under a legal hold; recorded in the ledger with the request's reference.
 */
export type TargetKind = 'job' | 'key' | 'principal';
export type RequestReason = 'request' | 'consent-withdrawn';
export type RequestState = 'open' | 'completed';
export type RequestMode = 'immediate' | 'next-run';

export interface ErasureTarget {
  readonly kind: TargetKind;
  readonly values: readonly string[];
}

export interface ErasureRequestInput {
  readonly reference: string;
  readonly target: ErasureTarget;
  /** Who asked (the data principal, or their nominee), as the ticket names them. */
  readonly requestedBy: string;
  readonly reason: RequestReason;
  /** Who entered it (the DPO, an API token's actor). */
  readonly submittedBy: string;
  /** ISO date or instant; default: received + the configured deadline. */
  readonly dueAt?: string;
  readonly note?: string;
}

/** Engine options for requests (resolved in options.ts). */
export interface ErasureRequestOptions {
  /** The data-principal identifier column of `jobs` (e.g. `user_id`); null: no `principal` requests. */
  readonly principalColumn: string | null;
  /** Days from receipt to the deadline (default 30; DPDP Rules leave it to the fiduciary within 90). */
  readonly deadlineDays: number;
  /** `immediate`: `lethe erase` runs the request at once; `next-run`: the next run takes it. */
  readonly mode: RequestMode;
  /** Processors to notify (one webhook each): reference and hashed keys. */
  readonly processors: readonly ProcessorConfig[];
}

export interface ProcessorConfig {
  readonly name: string;
  readonly url: string;
}

export const DEFAULT_ERASURE_OPTIONS: ErasureRequestOptions = Object.freeze({ principalColumn: null, deadlineDays: 30, mode: 'immediate', processors: [] });

const MAX_VALUES = 10_000;
const REF_RE = /^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,127}$/;
const COLUMN_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function resolveErasureOptions(
  o: Partial<{ principalColumn: string; deadlineDays: number; mode: string; processors: readonly ProcessorConfig[] }> | undefined,
): ErasureRequestOptions {
  if (o === undefined) return DEFAULT_ERASURE_OPTIONS;
  if (o.principalColumn !== undefined && !COLUMN_RE.test(o.principalColumn)) {
    throw new ConfigError(`erasure.principalColumn: expected a column name of jobs like "user_id", got ${JSON.stringify(o.principalColumn)}`);
  }
  const days = o.deadlineDays ?? 30;
  if (!Number.isInteger(days) || days < 1 || days > 90)
    throw new ConfigError(`erasure.deadlineDays: expected whole days from 1 to 90 (DPDP Rules: within 90), got ${JSON.stringify(o.deadlineDays)}`);
  const mode = o.mode ?? 'immediate';
  if (mode !== 'immediate' && mode !== 'next-run') throw new ConfigError(`erasure.mode: expected "immediate" or "next-run", got ${JSON.stringify(o.mode)}`);
  const processors = (o.processors ?? []).map((p, i) => {
    if (typeof p?.name !== 'string' || !/^[\w.-]{1,64}$/.test(p.name))
      throw new ConfigError(`erasure.processors[${i}].name: expected a short name like "payroll-vendor", got ${JSON.stringify(p?.name)}`);
    if (typeof p.url !== 'string' || !/^https?:\/\//.test(p.url))
      throw new ConfigError(`erasure.processors[${i}].url: expected an http(s) URL, got ${JSON.stringify(p.url)}`);
    return Object.freeze({ name: p.name, url: p.url });
  });
  return Object.freeze({ principalColumn: o.principalColumn ?? null, deadlineDays: days, mode, processors: Object.freeze(processors) });
}

/** Validates a request before it is stored; every message names the field. */
export function validateRequestInput(r: ErasureRequestInput, o: ErasureRequestOptions): ErasureRequestInput {
  if (typeof r.reference !== 'string' || !REF_RE.test(r.reference)) {
    throw new ConfigError(
      `reference: expected the ticket id (letters, digits and . _ : / # -, up to 128), like "DPO-2026-0142", got ${JSON.stringify(r.reference)}`,
    );
  }
  const kind = r.target?.kind;
  if (kind !== 'job' && kind !== 'key' && kind !== 'principal')
    throw new ConfigError(`target: expected job ids, file keys or a principal identifier, got ${JSON.stringify(kind)}`);
  if (kind === 'principal' && o.principalColumn === null) {
    throw new ConfigError(
      'principal: no data-principal column is configured for jobs (erasure.principalColumn / LETHE_ERASURE_PRINCIPAL_COLUMN, e.g. user_id)',
    );
  }
  const values = r.target.values;
  if (!Array.isArray(values) || values.length === 0 || values.length > MAX_VALUES)
    throw new ConfigError(`${kind}: expected 1 to ${MAX_VALUES} values, got ${Array.isArray(values) ? values.length : JSON.stringify(values)}`);
  for (const v of values)
    if (typeof v !== 'string' || v.trim() === '' || v.length > 1024) throw new ConfigError(`${kind}: expected non-empty values, got ${JSON.stringify(v)}`);
  if (typeof r.requestedBy !== 'string' || r.requestedBy.trim() === '')
    throw new ConfigError('requested-by: who asked (the data principal or their nominee, as the ticket names them) is required');
  if (r.reason !== 'request' && r.reason !== 'consent-withdrawn')
    throw new ConfigError(`why: expected "request" or "consent-withdrawn", got ${JSON.stringify(r.reason)}`);
  if (typeof r.submittedBy !== 'string' || r.submittedBy.trim() === '') throw new ConfigError('by: the identity of who entered the request is required');
  if (r.dueAt !== undefined && Number.isNaN(parseDue(r.dueAt)))
    throw new ConfigError(`due: expected a date like 2027-01-31 or an ISO instant, got ${JSON.stringify(r.dueAt)}`);
  return { ...r, target: { kind, values: [...new Set(values)].sort() } };
}

export function parseDue(text: string): number {
  const t = text.trim();
  return /^\d{4}-\d{2}-\d{2}$/.test(t) ? Date.parse(`${t}T23:59:59.999Z`) : /^\d{4}-\d{2}-\d{2}T/.test(t) ? Date.parse(t) : NaN;
}
