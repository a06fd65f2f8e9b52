import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A temporary storage root with helpers to create and check files by key. */
export interface TempRoot {
  readonly root: string;
  put(key: string, content?: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  remove(): Promise<void>;
}

export async function createTempRoot(label: string): Promise<TempRoot> {
  const root = await mkdtemp(join(tmpdir(), `lethe-${label}-`));
  return {
    root,
    async put(key, content = 'x') {
      const path = join(root, key);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, content);
    },
    exists: (key) =>
      stat(join(root, key)).then(
        () => true,
        () => false,
      ),
    remove: () => rm(root, { recursive: true, force: true }),
  };
}

/**
 * Keys (or paths) under Lethe's own `.lethe/` area (its erasure journal, trash, doctor probes): listing helpers that check
 * which documents are left skip them, as the engine's own listings do.
 */
export function isLetheOwn(key: string): boolean {
  return key === '.lethe' || key.startsWith('.lethe/') || key.includes('/.lethe/') || key.endsWith('/.lethe');
}

/** Keys (or paths) of the erasure journal only: helpers that look at the trash (also under `.lethe/`) skip just these. */
export function isJournalKey(key: string): boolean {
  return key.startsWith('.lethe/journal/') || key.includes('/.lethe/journal/');
}
