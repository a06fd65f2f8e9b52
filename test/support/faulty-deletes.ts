import type { KeyOutcome, ObjectInfo, StoragePort } from '@lethe/engine';

/** Wraps a real storage; keys for which `failWith` returns a code fail with it instead of being deleted. */
export class FaultyDeletes implements StoragePort {
  readonly describe: string;
  constructor(
    private readonly inner: StoragePort,
    private readonly failWith: (key: string) => string | null,
  ) {
    this.describe = `faulty(${inner.describe})`;
  }

  async deleteMany(keys: readonly string[]): Promise<KeyOutcome[]> {
    const pass = keys.filter((k) => this.failWith(k) === null);
    const done = new Map((await this.inner.deleteMany(pass)).map((o) => [o.key, o]));
    return keys.map((key) => {
      const code = this.failWith(key);
      return code ? { key, outcome: 'failed', code, message: `injected ${code}`, retryable: true } : done.get(key)!;
    });
  }

  stat(key: string): Promise<ObjectInfo | null> {
    return this.inner.stat(key);
  }

  list(prefix?: string): AsyncIterable<ObjectInfo> {
    return this.inner.list(prefix);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
