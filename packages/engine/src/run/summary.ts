import type { RowOutcome } from './record.js';
import type { ExpiredRow } from '../ports.js';

export type RunStatus = 'running' | 'completed' | 'failed' | 'paused' | 'interrupted';
export type RunTrigger = 'manual' | 'schedule' | 'api' | 'demo' | 'backlog' | (string & {});

export interface PurposeCounts {
  selected: number;
  /** Files deleted by this run. */
  erased: number;
  /** Files already gone; their rows were removed (runbook FM-002 case 1). */
  absent: number;
  failed: number;
  refused: number;
  /** Expired rows whose file a live row still needs (DESIGN invariant 3): kept. */
  shared: number;
  /** Expired rows whose file is under a legal hold: kept. */
  held: number;
  /**
   * Rows whose committed state changed while their batch waited (re-classified, re-pointed, or
   * being written by another transaction), found by the re-check under lock: kept, not erased.
   */
  changed: number;
  /** Rows someone else removed while their batch waited: their files were not touched by this run. */
  vanished: number;
}

export interface FailureSample {
  readonly job_id: string;
  readonly file_key: string;
  readonly purpose: string;
  readonly code: string;
  readonly message: string;
}

/** Why rows are not judged: no policy, no created_at, or an infinite one (`'infinity'`/`'-infinity'`). */
export type UnreadableReason = 'unknown_purpose' | 'null_created_at' | 'infinite_created_at';

export interface UnreadableRows {
  /** `null` for rows with a NULL purpose. */
  readonly purpose: string | null;
  readonly reason: UnreadableReason;
  /** Counted up to `cap`; `capped` says the real figure is larger. */
  readonly count: number;
  readonly capped: boolean;
  readonly sample_ids: readonly string[];
}

/** The JSON shape of a run: the `details` of its audit_logs row and `lethe run --json`. */
export interface RunSummary {
  readonly run_id: string;
  readonly status: RunStatus;
  readonly trigger: RunTrigger;
  readonly dry_run: boolean;
  readonly started_at: string;
  readonly ended_at: string;
  readonly cutoff: string | null;
  readonly policy_version: number | null;
  readonly policies: Readonly<Record<string, string>>;
  readonly storage: string;
  readonly version: string;
  readonly host: string;
  /** Rows whose file is now gone (erased + already absent): the runbook's figure. */
  readonly deleted_count: number;
  /** Keys whose delete failed; their rows were kept for the next run. */
  readonly failed_count: number;
  readonly erased_count: number;
  readonly absent_count: number;
  readonly refused_count: number;
  readonly shared_count: number;
  /** Expired rows kept because their file is under a legal hold (listed in held_files, capped). */
  readonly held_count: number;
  readonly held_files: readonly string[];
  /** Files kept because a live row still names them (capped like held_files). */
  readonly shared_files: readonly string[];
  /** Rows kept because the re-check under lock found them changed (docs/safety.md#races). */
  readonly changed_count: number;
  /** Rows removed by someone else before their batch reached storage (their files untouched). */
  readonly vanished_count: number;
  readonly selected_count: number;
  /** Dry runs: rows that would be deleted. */
  readonly would_delete_count: number;
  readonly by_purpose: Readonly<Record<string, PurposeCounts>>;
  readonly failed_files: readonly string[];
  readonly errors: readonly FailureSample[];
  readonly refused: readonly FailureSample[];
  readonly erased_keys: readonly string[];
  readonly erased_keys_truncated: boolean;
  readonly unreadable: readonly UnreadableRows[];
  readonly duration_seconds: number;
  readonly error: { readonly code: string; readonly message: string } | null;
  /** Failures above the degraded share (runbook FM-002: > 10%): the run finished but needs attention. */
  readonly degraded: boolean;
  readonly degraded_reason: string | null;
  /** The blast-radius judgement made before the run (null for dry runs). */
  readonly blast_radius: Readonly<Record<string, unknown>> | null;
  /** Expired rows counted before the run (with estimateTotal or the blast-radius guard); null otherwise. */
  readonly expired_estimate: number | null;
  readonly limit: number | null;
  /** Where the time went (ms); see SummaryBuilder.phaseMs. */
  readonly phase_ms: Readonly<Record<string, number>>;
  readonly purposes: readonly string[] | null;
  /** Scale-out: the logical run this worker belongs to, and its shard (`i/N`), or null. */
  readonly group_id: string | null;
  readonly shard: string | null;
}

export interface SummaryCaps {
  /** Erased keys kept in the audit row for FM-003's text search; beyond it, the ledger. */
  readonly erasedKeys: number;
  readonly failures: number;
  /** How keys are written (plain, or `hmac-sha256:<hex>` when the ledger hides keys; docs/safety.md#proof-without-personal-data-hmac-keys). */
  readonly keyFor?: (key: string) => string;
}

/** Accumulates counts and capped samples; memory is bounded whatever the backlog. */
export class SummaryBuilder {
  readonly byPurpose: Record<string, PurposeCounts> = {};
  readonly failedFiles: string[] = [];
  readonly errors: FailureSample[] = [];
  readonly refused: FailureSample[] = [];
  readonly heldFiles: string[] = [];
  readonly sharedFiles: string[] = [];
  readonly erasedKeys: string[] = [];
  erasedKeysTruncated = false;
  unreadable: UnreadableRows[] = [];
  /**
   * Where the run's time went, in milliseconds. The main loop's phases (read, guard, rateLimit,
   * backpressure, control, drain) add up to its wall time; storage and write are summed over
   * batches running in parallel, so they can exceed it.
   */
  readonly phaseMs = { read: 0, guard: 0, rateLimit: 0, backpressure: 0, control: 0, drain: 0, storage: 0, write: 0 };
  readonly #caps: SummaryCaps;

  constructor(caps: SummaryCaps) {
    this.#caps = caps;
  }

  counts(purpose: string): PurposeCounts {
    let c = this.byPurpose[purpose];
    if (!c) {
      c = { selected: 0, erased: 0, absent: 0, failed: 0, refused: 0, shared: 0, held: 0, changed: 0, vanished: 0 };
      this.byPurpose[purpose] = c;
    }
    return c;
  }

  selected(batch: readonly ExpiredRow[]): void {
    for (const r of batch) this.counts(r.purpose).selected++;
  }

  shared(row: ExpiredRow): void {
    this.counts(row.purpose).shared++;
    const key = this.#key(row.fileKey);
    if (this.sharedFiles.length < this.#caps.failures && !this.sharedFiles.includes(key)) this.sharedFiles.push(key);
  }

  changed(row: ExpiredRow): void {
    this.counts(row.purpose).changed++;
  }

  vanished(row: ExpiredRow): void {
    this.counts(row.purpose).vanished++;
  }

  /** A row selected again after an earlier batch of this run removed it (it shared a key): counted once. */
  forget(row: ExpiredRow): void {
    this.counts(row.purpose).selected--;
  }

  held(row: ExpiredRow): void {
    this.counts(row.purpose).held++;
    const key = this.#key(row.fileKey);
    if (this.heldFiles.length < this.#caps.failures && !this.heldFiles.includes(key)) this.heldFiles.push(key);
  }

  /**
   * Records outcomes; erased/absent count only when the row was really removed (`notRemoved`
   * lists those another process removed first; null when nothing was written, as in dry runs).
   */
  outcomes(outcomes: readonly RowOutcome[], notRemoved: ReadonlySet<string> | null): void {
    for (const o of outcomes) {
      const c = this.counts(o.row.purpose);
      switch (o.outcome) {
        case 'erased':
        case 'absent':
          if (notRemoved !== null && notRemoved.size > 0 && notRemoved.has(o.row.id)) break;
          c[o.outcome]++;
          if (o.outcome === 'erased') this.#erasedKey(o.row.fileKey);
          break;
        case 'failed':
          c.failed++;
          if (this.failedFiles.length < this.#caps.failures) this.failedFiles.push(this.#key(o.row.fileKey));
          this.#sample(this.errors, o);
          break;
        case 'refused':
          c.refused++;
          this.#sample(this.refused, o);
          break;
      }
    }
  }

  #key(key: string): string {
    return this.#caps.keyFor ? this.#caps.keyFor(key) : key;
  }

  /** Past the cap only the flag changes: the key (an HMAC in hidden-key mode) is not even computed. */
  #erasedKey(fileKey: string): void {
    if (this.erasedKeys.length < this.#caps.erasedKeys) this.erasedKeys.push(this.#key(fileKey));
    else this.erasedKeysTruncated = true;
  }

  #sample(list: FailureSample[], o: RowOutcome): void {
    if (list.length >= this.#caps.failures) return;
    list.push({ job_id: o.row.id, file_key: this.#key(o.row.fileKey), purpose: o.row.purpose, code: o.code ?? 'UNKNOWN', message: o.message ?? '' });
  }

  totals(): PurposeCounts {
    const t = { selected: 0, erased: 0, absent: 0, failed: 0, refused: 0, shared: 0, held: 0, changed: 0, vanished: 0 };
    for (const c of Object.values(this.byPurpose)) {
      t.selected += c.selected;
      t.erased += c.erased;
      t.absent += c.absent;
      t.failed += c.failed;
      t.refused += c.refused;
      t.shared += c.shared;
      t.held += c.held;
      t.changed += c.changed;
      t.vanished += c.vanished;
    }
    return t;
  }
}
