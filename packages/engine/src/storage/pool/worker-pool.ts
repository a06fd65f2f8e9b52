import type { Piscina } from 'piscina';
import { ErrorCodes, LetheError } from '../../errors.js';
import type {
  KeyOutcome,
  ObjectBody,
  ObjectInfo,
  ProbeResult,
  RestoreOutcome,
  StoragePort,
  TrashRecordTimes,
  TrashRequest,
  WriteOutcome,
} from '../../ports.js';
import { runBatchTask, type WorkerTask } from './batch-task.js';
import { createStorage, describeStorage, type StorageConfig } from '../index.js';
import { noTrashOutcomes, noTrashRestore } from '../no-trash.js';

export interface WorkerPoolOptions {
  /** 0: no threads, batches run on this thread's adapter (docs/performance.md#peers). */
  readonly threads: number;
}

/**
 * The storage port backed by a piscina pool: `deleteMany` runs in a worker thread; `stat` and
 * `list` (verification, reconciliation) run in this thread on an adapter of the same config.
 *
 * Shutdown drains: `close()` waits for batches in flight. Tasks are never aborted, because
 * aborting a piscina task kills its worker and loses the outcomes of keys already deleted.
 */
export class WorkerPoolStorage implements StoragePort {
  readonly describe: string;
  readonly #config: StorageConfig;
  readonly #threads: number;
  #poolInstance: Promise<Piscina> | undefined;
  #local: Promise<StoragePort> | undefined;

  constructor(config: StorageConfig, options: WorkerPoolOptions) {
    this.#config = config;
    this.#threads = options.threads;
    this.describe = describeStorage(config);
    if (trashCapable(config)) this.#withTrash();
  }

  /**
   * Started on the first batch, not at construction: a run with nothing expired (or a command
   * that only reads) starts no threads (each costs ~0.2 s of CPU; docs/performance.md#peers), and
   * piscina itself is imported only then (docs/performance.md#start-up).
   */
  #pool(): Promise<Piscina> {
    this.#poolInstance ??= import('piscina').then(
      ({ Piscina: PiscinaClass }) => {
        const fromSource = import.meta.url.endsWith('.ts');
        const filename = new URL(fromSource ? './worker.ts' : './worker.js', import.meta.url).href;
        return new PiscinaClass({
          filename,
          minThreads: this.#threads,
          maxThreads: this.#threads,
          idleTimeout: 60_000,
          workerData: { storage: this.#config },
          // Under tests the engine runs from TypeScript sources, which Node 20 cannot load in a worker.
          ...(fromSource ? { execArgv: ['--import', 'tsx'] } : {}),
        });
      },
      (error: unknown) => {
        this.#poolInstance = undefined;
        throw error;
      },
    );
    return this.#poolInstance;
  }

  async deleteMany(keys: readonly string[]): Promise<KeyOutcome[]> {
    return this.#run({ keys: [...keys] });
  }

  /** A batch in a worker, or with threads 0 on this thread's adapter (the same outcomes either way). */
  async #run(task: WorkerTask): Promise<KeyOutcome[]> {
    if (this.#threads === 0) {
      return runBatchTask(
        () => this.#localStorage(),
        task,
        () => {
          this.#local = undefined;
        },
      );
    }
    return (await (await this.#pool()).run(task)) as KeyOutcome[];
  }

  /** Undo window: moves into the trash run in the workers (the hot path), restores and purges here. */
  readonly trashMany?: (items: readonly TrashRequest[]) => Promise<KeyOutcome[]>;
  readonly restoreFromTrash?: (trash: string, key: string) => Promise<RestoreOutcome>;
  readonly purgeTrash?: (trash: readonly string[], times?: readonly TrashRecordTimes[]) => Promise<KeyOutcome[]>;
  readonly checkUndoWindow?: () => Promise<void>;

  #withTrash(): void {
    const self = this as { -readonly [K in 'trashMany' | 'restoreFromTrash' | 'purgeTrash' | 'checkUndoWindow']: WorkerPoolStorage[K] };
    self.trashMany = async (items) => this.#run({ trash: items.map((i) => ({ key: i.key, trashKey: i.trashKey })) });
    self.restoreFromTrash = async (trash, key) => {
      const local = await this.#localStorage();
      return local.restoreFromTrash ? local.restoreFromTrash(trash, key) : noTrashRestore(this.describe);
    };
    self.purgeTrash = async (trash, times) => {
      const local = await this.#localStorage();
      return local.purgeTrash ? local.purgeTrash(trash, times) : noTrashOutcomes(this.describe, trash, 'purge');
    };
    // Asked of this thread's adapter; the workers' adapters re-read the state and fall back to copies.
    self.checkUndoWindow = async () => {
      await (await this.#localStorage()).checkUndoWindow?.();
    };
  }

  #localStorage(): Promise<StoragePort> {
    this.#local ??= createStorage(this.#config);
    return this.#local;
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    return (await this.#localStorage()).stat(key);
  }

  async *list(prefix?: string): AsyncIterable<ObjectInfo> {
    yield* (await this.#localStorage()).list(prefix);
  }

  /** Multipart uploads are listed and aborted from this thread's adapter (a few requests a prefix). */
  async abortUploadsUnder(prefix: string, signal?: AbortSignal): Promise<{ readonly code: string; readonly message: string } | null> {
    const local = await this.#localStorage();
    return local.abortUploadsUnder ? local.abortUploadsUnder(prefix, signal) : null;
  }

  /** From this thread's adapter (same config as the workers'); `{}` when the adapter has nothing to say. */
  async describeState(): Promise<Record<string, unknown>> {
    const local = await this.#localStorage();
    return local.describeState ? local.describeState() : {};
  }

  /** The root check, the doctor's probe and restores from a backup run in this thread. */
  async ping(): Promise<void> {
    await (await this.#localStorage()).ping?.();
  }

  async probe(name: string): Promise<ProbeResult> {
    const local = await this.#localStorage();
    if (!local.probe) throw new LetheError(ErrorCodes.STORAGE, `${this.describe}: this store has no probe`);
    return local.probe(name);
  }

  async readObject(key: string): Promise<ObjectBody | null> {
    const local = await this.#localStorage();
    if (!local.readObject) throw new LetheError(ErrorCodes.STORAGE, `${this.describe}: this store cannot read whole objects`);
    return local.readObject(key);
  }

  async writeObject(key: string, source: ObjectBody): Promise<WriteOutcome> {
    const local = await this.#localStorage();
    if (!local.writeObject) throw new LetheError(ErrorCodes.STORAGE, `${this.describe}: this store cannot write objects`);
    return local.writeObject(key, source);
  }

  async close(): Promise<void> {
    // A pool still being made is waited for and closed too (a batch may be about to run on it).
    const pool = this.#poolInstance && (await this.#poolInstance.catch(() => undefined));
    await pool?.close();
    if (this.#local) await (await this.#local).close();
  }
}

/** Which stores have an undo window (a trash): the filesystem (fs/trash.ts) and S3 (s3/trash.ts). */
export function trashCapable(config: StorageConfig): boolean {
  return config.kind === 'file' || config.kind === 's3';
}
