import { ledgerKeyFunction, trashNameFor, type LedgerKeyFn } from '../policy/ledger-keys.js';
import type { ResolvedOptions } from '../options.js';
import type { ExpiredRow, KeyOutcome, StoragePort } from '../ports.js';
import { noTrashOutcomes } from '../storage/no-trash.js';
import { trashKeyFor } from '../storage/trash-keys.js';
import { anyUndoWindow, undoWindowFor, type UndoWindow, type UndoWindows } from '../policy/undo-window.js';

/**
 * How a run erases (docs/safety.md#undo-window-default-off): a plain delete, or, for purposes with an undo window, a move into
 * the store's trash (`.lethe/trash/<runId>/<name>`); and how keys are written to the ledger and
 * the summary (plain, or as HMACs). Built once per run; shared by the batches in flight.
 */
export interface ErasurePlan {
  readonly runId: string;
  readonly windows: UndoWindows;
  readonly ledgerKey: LedgerKeyFn;
  readonly trashName: (key: string) => string;
}

export function erasurePlan(options: ResolvedOptions, runId: string): ErasurePlan {
  return {
    runId,
    windows: options.undoWindows,
    ledgerKey: ledgerKeyFunction(options.ledgerKeyHmacSecret),
    trashName: (key) => trashNameFor(options, key),
  };
}

export interface ErasedBatch {
  /** One outcome per key (order not kept: the caller maps by key). */
  readonly results: KeyOutcome[];
  /** The undo window each trashed key got (the longest among its rows' purposes). */
  readonly windowOf: ReadonlyMap<string, string>;
}

const NONE: ReadonlyMap<string, string> = new Map();

/** Deletes the batch's keys, or moves those with an undo window into the trash: one storage call each kind. */
export async function eraseKeys(
  storage: StoragePort,
  plan: ErasurePlan | undefined,
  rows: readonly ExpiredRow[],
  keys: readonly string[],
): Promise<ErasedBatch> {
  if (!plan || !anyUndoWindow(plan.windows)) return { results: await storage.deleteMany(keys), windowOf: NONE };
  const windows = new Map<string, UndoWindow>();
  for (const row of rows) {
    const w = undoWindowFor(plan.windows, row.purpose);
    const had = windows.get(row.fileKey);
    if (w && (!had || w.approxMs > had.approxMs)) windows.set(row.fileKey, w);
  }
  if (windows.size === 0) return { results: await storage.deleteMany(keys), windowOf: NONE };
  const plain = keys.filter((k) => !windows.has(k));
  const trash = keys.filter((k) => windows.has(k)).map((key) => ({ key, trashKey: trashKeyFor(plan.runId, plan.trashName(key)) }));
  const moved = storage.trashMany
    ? storage.trashMany(trash)
    : Promise.resolve(
        noTrashOutcomes(
          storage.describe,
          trash.map((t) => t.key),
        ),
      );
  const [deleted, trashed] = await Promise.all([plain.length > 0 ? storage.deleteMany(plain) : Promise.resolve([]), moved]);
  return { results: [...deleted, ...trashed], windowOf: new Map([...windows].map(([k, w]) => [k, w.interval])) };
}
