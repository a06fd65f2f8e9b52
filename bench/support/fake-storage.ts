import type { KeyOutcome, ObjectInfo, StoragePort } from '../../packages/engine/dist/index.js';

/**
 * In-process storage for benchmarks about the pipeline rather than the store (selection at scale,
 * memory): every key answers `erased` and nothing real is deleted, so the figures are Lethe's
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

  async stat(): Promise<ObjectInfo | null> {
    return null;
  }

  async *list(): AsyncIterable<ObjectInfo> {}

  async close(): Promise<void> {}
}
