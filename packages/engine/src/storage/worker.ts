/**
 * Piscina worker entry: builds its own storage adapter from `workerData` and deletes one batch of
 * keys per task. Outcomes come back as plain data; a thrown error would lose its class and code
 * crossing the thread boundary, so every failure is turned into per-key outcomes here.
 */
import { workerData } from 'node:worker_threads';
import type { KeyOutcome, StoragePort } from '../ports.js';
import { createStorage, type StorageConfig } from './config.js';

const config = (workerData as { storage: StorageConfig }).storage;
let storage: Promise<StoragePort> | undefined;

export default async function deleteBatch(task: { keys: string[] }): Promise<KeyOutcome[]> {
  try {
    storage ??= createStorage(config);
    return await (await storage).deleteMany(task.keys);
  } catch (error) {
    storage = undefined;
    const e = error as { code?: unknown; message?: unknown };
    const code = typeof e.code === 'string' ? e.code : 'LETHE_E_STORAGE';
    const message = typeof e.message === 'string' ? e.message : String(error);
    return task.keys.map((key) => ({ key, outcome: 'failed', code, message, retryable: true }));
  }
}
