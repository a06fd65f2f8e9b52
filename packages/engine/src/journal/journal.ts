import { describeError, ErrorCodes, LetheError } from '../errors.js';
import type { LedgerKeyFn } from '../policy/ledger-keys.js';
import type { RowOutcome } from '../run/record.js';
import { encodeBatch, journalName, JOURNAL_FORMAT, type JournalEntry } from './entries.js';
import type { JournalStore } from './store.js';

/** The journal could not be written or read: a run that cannot journal its erasures fails (docs/safety.md#erasures-survive-a-backup-restore). */
export class JournalError extends LetheError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.JOURNAL, message, options);
    this.name = 'JournalError';
  }
}

/** Outcomes whose job row this batch removed: what a restore would bring back. */
const REMOVED = new Set(['erased', 'absent', 'unlinked']);

/**
 * A run's journal: one object per write, holding the batches committed since the previous write
 * (one batch each when writes keep up). The pipeline appends after the batch's commit (its ledger rows exist, so the journal is never ahead of a ledger that was not
 * restored) and before the run reports: a failed write is thrown as a JournalError, which
 * makes the run fail. A batch erased but not journaled (the write failed) is named in the
 * error: a restore from before it would not redo it.
 */
export class RunJournal {
  readonly #store: JournalStore;
  readonly #runId: string;
  readonly #ledgerKey: LedgerKeyFn;
  readonly #now: () => number;
  #seq = 0;

  constructor(store: JournalStore, o: { readonly runId: string; readonly ledgerKey: LedgerKeyFn; readonly now: () => number }) {
    this.#store = store;
    this.#runId = o.runId;
    this.#ledgerKey = o.ledgerKey;
    this.#now = o.now;
  }

  get describe(): string {
    return this.#store.describe;
  }

  /** The batch's entries: rows it removed (minus those someone else removed first), in the ledger's key form. */
  entries(outcomes: readonly RowOutcome[], notRemoved: ReadonlySet<string>, requestRef: string | null, erasedAtMs: number): JournalEntry[] {
    const erasedAt = new Date(erasedAtMs).toISOString();
    const out: JournalEntry[] = [];
    for (const o of outcomes) {
      if (!REMOVED.has(o.outcome) || notRemoved.has(o.row.id) || !Number.isFinite(o.row.createdAtMs)) continue;
      out.push({
        job_id: o.row.id,
        key: this.#ledgerKey(o.row.fileKey),
        purpose: o.row.purpose,
        run_id: this.#runId,
        request_ref: requestRef,
        erased_at: erasedAt,
        created_ms: o.row.createdAtMs,
      });
    }
    return out;
  }

  /**
   * Makes the entries durable: resolves once an object holding them is written, rejects with a
   * JournalError when that write fails. Appends made while a write is in flight go out together
   * in the next object (one put, one flush, for every batch that committed meanwhile), so a
   * pipeline that does not wait for each write in turn pays far fewer of them.
   */
  append(entries: readonly JournalEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      for (const e of entries) this.#queued.push(e);
      this.#waiters.push({ resolve, reject });
      if (!this.#writing) void this.#drain();
    });
  }

  #queued: JournalEntry[] = [];
  #waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  #writing = false;

  async #drain(): Promise<void> {
    this.#writing = true;
    while (this.#queued.length > 0) {
      const entries = this.#queued;
      const waiters = this.#waiters;
      this.#queued = [];
      this.#waiters = [];
      try {
        await this.#write(entries, waiters.length);
        for (const w of waiters) w.resolve();
      } catch (error) {
        for (const w of waiters) w.reject(error);
      }
    }
    this.#writing = false;
  }

  async #write(entries: readonly JournalEntry[], batches: number): Promise<void> {
    const nowMs = this.#now();
    const name = journalName(nowMs, this.#runId, ++this.#seq);
    const body = encodeBatch({ format: JOURNAL_FORMAT, run_id: this.#runId, written_at: new Date(nowMs).toISOString(), entries });
    try {
      await this.#store.put(name, body);
    } catch (error) {
      throw new JournalError(
        `the erasure journal (${this.#store.describe}) could not be written: ${describeError(error)}; ${entries.length} erasures of ${batches === 1 ? 'a batch' : `${batches} batches`} are committed in the ledger but not journaled (a restore from before this run would not redo them)`,
        { cause: error },
      );
    }
  }
}
