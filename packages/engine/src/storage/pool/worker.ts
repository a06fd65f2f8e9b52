/**
 * Piscina worker entry: builds its own storage adapter from `workerData` and deletes one batch of
 * keys per task. Outcomes come back as plain data; a thrown error would lose its class and code
 * crossing the thread boundary, so every failure is turned into per-key outcomes (batch-task.ts).
 */
import { workerData } from 'node:worker_threads';
import type { KeyOutcome, StoragePort } from '../../ports.js';
import { runBatchTask, type WorkerTask } from './batch-task.js';
import { createStorage, type StorageConfig } from '../index.js';

const config = (workerData as { storage: StorageConfig }).storage;
let storage: Promise<StoragePort> | undefined;

export type { WorkerTask } from './batch-task.js';

export default async function deleteBatch(task: WorkerTask): Promise<KeyOutcome[]> {
  return runBatchTask(
    () => (storage ??= createStorage(config)),
    task,
    () => {
      storage = undefined;
    },
  );
}
