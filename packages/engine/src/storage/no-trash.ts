import { ErrorCodes } from '../errors.js';
import type { KeyOutcome, RestoreOutcome } from '../ports.js';

/**
 * The one answer of a store that has no trash (no undo window, docs/safety.md#undo-window-default-off) when
 * asked to trash, restore or purge: a per-key failure that is not retryable, and the file is kept.
 * Used by the run's erasure plan, the storage workers, the worker pool and `lethe purge`.
 */
export function noTrashMessage(describe: string, what: 'trash' | 'restore' | 'purge' = 'trash'): string {
  if (what === 'purge') return `${describe} has no trash to purge (is this the store the files were trashed in?)`;
  return what === 'restore' ? `${describe} has no undo window (trash)` : `${describe} has no undo window (trash); the file was kept`;
}

export function noTrashOutcomes(describe: string, keys: readonly string[], what: 'trash' | 'purge' = 'trash'): KeyOutcome[] {
  const message = noTrashMessage(describe, what);
  return keys.map((key) => ({ key, outcome: 'failed', code: ErrorCodes.CONFIG, message, retryable: false }));
}

export function noTrashRestore(describe: string): RestoreOutcome {
  return { outcome: 'failed', code: ErrorCodes.CONFIG, message: noTrashMessage(describe, 'restore') };
}
