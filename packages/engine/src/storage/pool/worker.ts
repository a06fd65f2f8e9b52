/**
 * Piscina worker entry: builds its own storage adapter from `workerData` and deletes one batch of
 * keys per task. Outcomes come back as plain data; a thrown error would lose its class and code
 * crossing the thread boundary, so every failure is turned into per-key outcomes here.
 */
import { workerData } from 'node:worker_threads';
import type { KeyOutcome, StoragePort, TrashRequest } from '../../ports.js';
import { createStorage, type StorageConfig } from '../index.js';
import { noTrashOutcomes } from '../no-trash.js';

const config = (workerData as { storage: StorageConfig }).storage;
let storage: Promise<StoragePort> | undefined;

/** A batch to delete (`keys`), or to move into the trash (`trash`, the undo window). */
export type WorkerTask = { keys: string[] } | { trash: TrashRequest[] };

export default async function deleteBatch(task: WorkerTask): Promise<KeyOutcome[]> {
  try {
    storage ??= createStorage(config);
    const s = await storage;
    if (!('trash' in task)) return await s.deleteMany(task.keys);
    if (!s.trashMany) return noTrashOutcomes(s.describe, task.trash.map((t) => t.key));
    return await s.trashMany(task.trash);
  } catch (error) {
    storage = undefined;
    const e = error as { code?: unknown; message?: unknown };
    const code = typeof e.code === 'string' ? e.code : 'LETHE_E_STORAGE';
    const message = typeof e.message === 'string' ? e.message : String(error);
    const keys = 'trash' in task ? task.trash.map((t) => t.key) : task.keys;
    return keys.map((key) => ({ key, outcome: 'failed', code, message, retryable: true }));
  }
}
