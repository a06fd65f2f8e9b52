import { ErrorCodes, LetheError } from '../errors.js';

/**
 * The journal's format (docs/safety.md#erasures-survive-a-backup-restore): one JSON object per committed batch, holding only
 * what a replay needs to find a row that came back and prove it is the same row. The file key is
 * in the ledger's form (policy/ledger-keys.ts): `hmac-sha256:<hex>` with a ledger secret, else the
 * key itself, so the journal reveals no more than the ledger does; never the row's content.
 */
export const JOURNAL_FORMAT = 'lethe-journal/1';

export interface JournalEntry {
  readonly job_id: string;
  /** The file key as the ledger stores it (policy/ledger-keys.ts). */
  readonly key: string;
  readonly purpose: string;
  readonly run_id: string;
  /** The erasure request the batch served (docs/rights.md), or null for a retention run. */
  readonly request_ref: string | null;
  /** When the batch committed (ISO, UTC). */
  readonly erased_at: string;
  /** The job row's created_at as epoch milliseconds, exactly as the database gave it: a row at a reused id or key differs here. */
  readonly created_ms: number;
}

export interface JournalBatch {
  readonly format: typeof JOURNAL_FORMAT;
  readonly run_id: string;
  readonly written_at: string;
  readonly entries: readonly JournalEntry[];
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NAME_RE = /^(\d{8}T\d{9}Z)-([0-9a-f-]{36})-(\d{6})\.json$/;

/** `<UTC time, sortable>-<run id>-<batch number>.json`: names sort by time, and say which run wrote them. */
export function journalName(writtenAtMs: number, runId: string, seq: number): string {
  const iso = new Date(writtenAtMs).toISOString(); // 2026-12-03T11:40:00.123Z
  const stamp = iso.replace(/[-:]/g, '').replace('.', '');
  return `${stamp}-${runId}-${String(seq).padStart(6, '0')}.json`;
}

export function isJournalName(name: string): boolean {
  return NAME_RE.test(name);
}

/** When the object was written (from its name), epoch ms; null for a name that is not the journal's. */
export function journalNameTime(name: string): number | null {
  const m = NAME_RE.exec(name);
  if (!m) return null;
  const s = m[1]!;
  return Date.parse(`${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}.${s.slice(15, 18)}Z`);
}

export function encodeBatch(batch: JournalBatch): string {
  return `${JSON.stringify(batch)}\n`;
}

/** Parses and checks one object; a malformed one is a journal error naming it (replay must not guess). */
export function decodeBatch(name: string, text: string): JournalBatch {
  const bad = (why: string): never => {
    throw new LetheError(ErrorCodes.JOURNAL, `journal object ${name}: ${why}`);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return bad('not valid JSON');
  }
  const b = parsed as Partial<JournalBatch> | null;
  if (b === null || typeof b !== 'object' || b.format !== JOURNAL_FORMAT) return bad(`expected format ${JOURNAL_FORMAT}`);
  if (typeof b.run_id !== 'string' || !UUID_RE.test(b.run_id) || !Array.isArray(b.entries)) return bad('expected a run_id (a UUID) and entries');
  for (const e of b.entries as unknown[]) {
    const x = e as Partial<JournalEntry> | null;
    if (
      x === null ||
      typeof x !== 'object' ||
      typeof x.job_id !== 'string' ||
      typeof x.key !== 'string' ||
      typeof x.run_id !== 'string' ||
      !UUID_RE.test(x.run_id) ||
      typeof x.erased_at !== 'string' ||
      typeof x.created_ms !== 'number'
    )
      return bad('an entry lacks job_id, key, run_id, erased_at or created_ms');
  }
  return b as JournalBatch;
}
