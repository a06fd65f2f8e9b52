import type { KeyOutcome, ObjectInfo, StoragePort } from '@lethe/engine';

/**
 * In-process storage for benchmarks about the pipeline rather than the store (selection at scale,
 * memory): every key exists and answers `erased`, and nothing real is deleted, so the figures are Lethe's
 * cursor, guards, outcome statements and summary, without file or network I/O. `calls` counts
 * deleteMany calls, so a bench can check that a run with nothing expired never reached storage.
 */
export class ErasingStorage implements StoragePort {
  readonly describe = 'bench://erasing';
  calls = 0;

  async deleteMany(keys: readonly string[]): Promise<KeyOutcome[]> {
    this.calls++;
    const out = new Array<KeyOutcome>(keys.length);
    for (let i = 0; i < keys.length; i++) out[i] = { key: keys[i]!, outcome: 'erased' };
    return out;
  }

  /** Every object "exists" until erased: the run's storage check (a sample looked up before the first delete) passes, as on a real store. */
  async stat(key: string): Promise<ObjectInfo | null> {
    return { key, size: 0, modifiedMs: 0 };
  }

  async *list(): AsyncIterable<ObjectInfo> {}

  async close(): Promise<void> {}
}
