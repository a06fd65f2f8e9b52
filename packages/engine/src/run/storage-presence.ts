import { ErrorCodes, LetheError } from '../errors.js';
import type { ExpiredRow, KeyOutcome, StoragePort } from '../ports.js';

/**
 * Storage that lies (docs/safety.md#storage-that-lies): an unmounted volume (an empty mount
 * point), a mistyped prefix. The database says files exist; if storage holds none of them, every
 * delete "succeeds" as already absent (or, on S3, as erased: DeleteObjects cannot tell) and the
 * rows go while the files stay on the real volume. So before a run's first delete, a sample of
 * the batch's keys is looked up (stat: lstat / HEAD): when most are missing, or none is present
 * and the storage lists nothing at all, the run stops before deleting, keeps the rows, and
 * pauses Lethe with the reason. After that, on stores that report absence (the filesystem), a
 * batch where most keys turn out absent stops the run the same way (its absent rows are kept).
 *
 * Keys a crashed batch was erasing (its intent, left in lethe_inflight by a run that died, or by a
 * group worker whose rows came back when its transaction died) are expected to be absent: they
 * are left out of the sample and of the counts, so a rerun after a crash converges.
 */
export interface PresenceOptions {
  /** Keys looked up before the first delete. */
  readonly sampleSize: number;
  /** Smallest sample (or batch) on which "most absent" is judged; below it only an empty store stops the run. */
  readonly minJudged: number;
  /** The operator's override (`--allow-missing`): absent files are recorded as absent. */
  readonly allowMissing: boolean;
}

export const DEFAULT_PRESENCE: PresenceOptions = { sampleSize: 16, minJudged: 3, allowMissing: false };

export class PresenceGuard {
  readonly #storage: StoragePort;
  readonly #options: PresenceOptions;
  /** Of these job ids, those a crashed batch was erasing (its intent is left): absence there is expected. */
  readonly #expectedAbsent: (ids: readonly string[]) => Promise<ReadonlySet<string>>;
  #confirmed: boolean;
  #empty: Promise<boolean> | undefined;

  constructor(storage: StoragePort, expectedAbsent: (ids: readonly string[]) => Promise<ReadonlySet<string>>, options: PresenceOptions) {
    this.#storage = storage;
    this.#expectedAbsent = expectedAbsent;
    this.#options = options;
    this.#confirmed = options.allowMissing;
  }

  get confirmed(): boolean {
    return this.#confirmed;
  }

  /** Before the storage call: null to go on, or the error that stops the run. */
  async beforeStorage(rows: readonly ExpiredRow[], keys: readonly string[]): Promise<LetheError | null> {
    if (this.#confirmed) return null;
    const expected = await this.#expectedKeys(rows);
    const candidates = keys.filter((k) => !expected.has(k));
    if (candidates.length === 0) return null;
    const sample = spread(candidates, this.#options.sampleSize);
    const found = await Promise.all(
      sample.map((k) =>
        this.#storage.stat(k).then(
          (s) => s !== null,
          () => null,
        ),
      ),
    );
    const judged = found.filter((f) => f !== null);
    const present = judged.filter((f) => f === true).length;
    if (judged.length === 0) return null;
    if (present * 2 > judged.length || (present > 0 && judged.length < this.#options.minJudged)) {
      this.#confirmed = true;
      return null;
    }
    const absent = judged.length - present;
    if (judged.length >= this.#options.minJudged || (present === 0 && (await this.#storageEmpty()))) {
      return this.#error(`${absent} of ${judged.length} sampled files are missing before any delete`);
    }
    return null;
  }

  /**
   * After the storage call, on stores that report absence: the keys whose rows must be kept
   * (absent when most of the batch was absent), with the error that stops the run; or null.
   */
  async afterStorage(
    rows: readonly ExpiredRow[],
    results: readonly KeyOutcome[],
  ): Promise<{ readonly keep: ReadonlySet<string>; readonly error: LetheError } | null> {
    if (this.#options.allowMissing) return null;
    const judge = (expected: ReadonlySet<string>): { judged: number; absent: Set<string> } => {
      let judged = 0;
      const absent = new Set<string>();
      for (const r of results) {
        if (expected.has(r.key) || r.outcome === 'refused') continue;
        judged++;
        if (r.outcome === 'absent' && r.trash === undefined) absent.add(r.key);
      }
      return { judged, absent };
    };
    const suspicious = (j: { judged: number; absent: Set<string> }): boolean => j.judged >= this.#options.minJudged && j.absent.size * 2 > j.judged;
    let j = judge(new Set());
    // Only a suspicious batch asks which of its rows a crashed batch was erasing.
    if (suspicious(j)) j = judge(await this.#expectedKeys(rows));
    if (!suspicious(j)) {
      if (j.judged - j.absent.size > 0) this.#confirmed = true;
      return null;
    }
    return { keep: j.absent, error: this.#error(`${j.absent.size} of ${j.judged} files of a batch were already absent`) };
  }

  async #expectedKeys(rows: readonly ExpiredRow[]): Promise<Set<string>> {
    const ids = await this.#expectedAbsent(rows.map((r) => r.id));
    const keys = new Set<string>();
    for (const r of rows) if (ids.has(r.id)) keys.add(r.fileKey);
    return keys;
  }

  #storageEmpty(): Promise<boolean> {
    this.#empty ??= (async () => {
      for await (const _ of this.#storage.list()) return false;
      return true;
    })().catch(() => false);
    return this.#empty;
  }

  #error(what: string): LetheError {
    return new LetheError(
      ErrorCodes.STORAGE_MISMATCH,
      `storage does not hold what the database says: ${what} in ${this.#storage.describe} (an unmounted volume or a wrong prefix?); ` +
        'the run stopped, no row was removed for them, and Lethe is paused. Check the storage setting and the mount; ' +
        'if the files really are gone, `lethe resume` then `lethe run --allow-missing` records them as absent (docs/safety.md#storage-that-lies)',
    );
  }
}

/** Up to `n` items spread evenly over the list. */
function spread<T>(items: readonly T[], n: number): T[] {
  if (items.length <= n) return [...items];
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(items[Math.floor((i * items.length) / n)]!);
  return out;
}
