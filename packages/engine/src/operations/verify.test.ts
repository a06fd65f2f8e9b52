import { describe, expect, it } from 'vitest';
import { ErrorCodes, LetheError } from '../errors.js';
import type { ObjectInfo, StoragePort } from '../ports.js';
import { MemoryStorage } from '../testing/memory-storage.js';
import { statAll } from './verify.js';

/** Counts stats in flight; each stat waits until released, so the bound is observable. */
class GatedStorage extends MemoryStorage {
  inFlight = 0;
  maxInFlight = 0;
  readonly #waiting: (() => void)[] = [];
  override async stat(key: string): Promise<ObjectInfo | null> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.inFlight--;
    if (key === 'broken') throw new LetheError(ErrorCodes.STORAGE, 'disk on fire');
    return super.stat(key);
  }
  releaseAll(): number {
    const n = this.#waiting.length;
    for (const r of this.#waiting.splice(0)) r();
    return n;
  }
}

describe('statAll', () => {
  it('keeps at most `concurrency` stats in flight and returns one result per key, failures as data', async () => {
    const storage = new GatedStorage().put('a', 1, 10).put('c', 1, 30);
    const keys = ['a', 'b', 'c', 'broken', '../x', 'd', 'e'];
    const done = statAll(storage, keys, 3);
    // Release waves until every stat has run; the bound holds at every wave.
    let released = 0;
    while (released < keys.length) {
      await new Promise((r) => setImmediate(r));
      expect(storage.inFlight).toBeLessThanOrEqual(3);
      released += storage.releaseAll();
    }
    const results = await done;
    expect(storage.maxInFlight).toBe(3);
    expect(results.size).toBe(keys.length);
    expect(results.get('a')).toEqual({ info: { key: 'a', size: 10, modifiedMs: 1 } });
    expect(results.get('b')).toEqual({ info: null });
    expect(results.get('broken')).toEqual({ error: { code: ErrorCodes.STORAGE, message: 'LETHE_E_STORAGE: disk on fire' } });
    expect(results.get('../x')).toMatchObject({ error: { code: ErrorCodes.KEY_INVALID } });
  });

  it('handles no keys', async () => {
    const storage: StoragePort = new MemoryStorage();
    expect((await statAll(storage, [], 8)).size).toBe(0);
  });
});
