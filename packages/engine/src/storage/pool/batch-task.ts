import type { KeyOutcome, StoragePort, TrashRequest } from '../../ports.js';
import { noTrashOutcomes } from '../no-trash.js';

/** A batch to delete (`keys`), or to move into the trash (`trash`, the undo window). */
export type WorkerTask = { keys: string[] } | { trash: TrashRequest[] };

/**
 * One batch on an adapter, in a worker thread (worker.ts) or in this one (threads 0): every
 * failure becomes per-key outcomes (a thrown error would lose its class and code crossing the
 * thread boundary, and the pipeline expects outcomes either way). `onError` lets the caller drop
 * an adapter that failed to build, so the next batch builds it again.
 */
export async function runBatchTask(storage: () => Promise<StoragePort>, task: WorkerTask, onError: () => void): Promise<KeyOutcome[]> {
  try {
    const s = await storage();
    if (!('trash' in task)) return await s.deleteMany(task.keys);
    if (!s.trashMany)
      return noTrashOutcomes(
        s.describe,
        task.trash.map((t) => t.key),
      );
    return await s.trashMany(task.trash);
  } catch (error) {
    onError();
    const e = error as { code?: unknown; message?: unknown };
    const code = typeof e.code === 'string' ? e.code : 'LETHE_E_STORAGE';
    const message = typeof e.message === 'string' ? e.message : String(error);
    const keys = 'trash' in task ? task.trash.map((t) => t.key) : task.keys;
    return keys.map((key) => ({ key, outcome: 'failed', code, message, retryable: true }));
  }
}
