import { ErrorCodes, LetheError } from '../errors.js';
import type { KeyOutcome, ObjectInfo, StoragePort } from '../ports.js';
import { checkKey } from '../storage/keys.js';

/**
 * In-memory storage for unit tests. `fail` injects per-key failures (a code per key), and
 * `deletes` records every key the engine asked to delete, in order.
 */
export class MemoryStorage implements StoragePort {
  readonly describe = 'memory://';
  readonly objects = new Map<string, ObjectInfo>();
  readonly fail = new Map<string, string>();
  readonly deletes: string[] = [];

  put(key: string, modifiedMs = 0, size = 1): this {
    this.objects.set(key, { key, size, modifiedMs });
    return this;
  }

  async deleteMany(keys: readonly string[]): Promise<KeyOutcome[]> {
    return keys.map((key): KeyOutcome => {
      this.deletes.push(key);
      const problem = checkKey(key);
      if (problem) return { key, outcome: 'refused', code: problem.code, message: problem.message, retryable: false };
      const code = this.fail.get(key);
      if (code) return { key, outcome: 'failed', code, message: `injected ${code}`, retryable: true };
      return this.objects.delete(key) ? { key, outcome: 'erased' } : { key, outcome: 'absent' };
    });
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    const problem = checkKey(key);
    if (problem) throw new LetheError(ErrorCodes.KEY_INVALID, problem.message);
    return this.objects.get(key) ?? null;
  }

  async *list(prefix = ''): AsyncIterable<ObjectInfo> {
    for (const o of [...this.objects.values()].sort((a, b) => a.key.localeCompare(b.key))) if (o.key.startsWith(prefix)) yield o;
  }

  async close(): Promise<void> {}
}
