import { link, lstat, mkdir, readdir, realpath, rename, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ErrorCodes } from '../../errors.js';
import type { KeyOutcome, RestoreOutcome, TrashRequest } from '../../ports.js';
import { checkKey, fileLinkProblem, isInside } from '../keys.js';
import { isReservedKey, parseTrashKey, reservedKeyProblem, TRASH_DIR } from '../trash-keys.js';
import { mapLimit } from '../map-limit.js';

/**
 * The filesystem's undo window (docs/safety.md#undo-window-default-off). Erasing becomes a rename into `.lethe/trash/<run>/<name>`
 * under the root: the same filesystem, so the move is atomic and costs what an unlink costs.
 * Storage first, then the database (DESIGN invariant 5): a crash after the rename leaves the row
 * and a file absent at its key; the rerun finds the earlier trash copy and records it, so the copy
 * stays known and restorable. Restores link the copy back (never over another file); purges unlink.
 * The same key checks as deletes: lexical first, then, per key and right before the move, the
 * parent's real path inside the root and an lstat (no symlink, no other hard links; see fs.ts).
 * Nothing is cached across keys but the mkdir of a trash directory: its real path is checked per key.
 */

/** The real path of `path`'s parent, resolved now (never cached), or null when it does not exist. */
function realParent(path: string): Promise<string | null> {
  return realpath(dirname(path)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null;
    throw error;
  });
}

const outside = (key: string): KeyOutcome => ({
  key,
  outcome: 'refused',
  code: ErrorCodes.KEY_OUTSIDE_ROOT,
  message: 'file_key: its directory resolves outside the storage root (symlink)',
  retryable: false,
});

function failure(key: string, error: NodeJS.ErrnoException, verb: string): KeyOutcome {
  const code = error.code ?? ErrorCodes.STORAGE;
  const retryable = !['EACCES', 'EPERM', 'EROFS', 'EISDIR', 'EXDEV'].includes(code);
  const hint = code === 'EXDEV' ? ' (the trash must be on the same filesystem as the file: is this directory a separate mount?)' : '';
  return { key, outcome: 'failed', code, message: `${verb}: ${error.message}${hint}`, retryable };
}

/**
 * Makes the trash directory of `trashKey` (once per call, never through a symlink out: see
 * makeDirsInside) and returns its real path, resolved for every key, when it lies under the
 * root's `.lethe/trash`; null otherwise.
 */
async function trashDir(rootReal: string, trashKey: string, made: Map<string, Promise<boolean>>): Promise<string | null> {
  const dirKey = trashKey.slice(0, trashKey.lastIndexOf('/'));
  let mk = made.get(dirKey);
  if (!mk) {
    mk = makeDirsInside(rootReal, dirKey);
    made.set(dirKey, mk);
  }
  if (!(await mk)) return null;
  const real = await realpath(join(rootReal, dirKey));
  return isInside(join(rootReal, TRASH_DIR), real) ? real : null;
}

/**
 * `mkdir -p` of a checked relative directory, one segment at a time, each resolved and checked
 * inside the root before the next is made: a symlinked directory on the way never leads a mkdir
 * out of the root. False when one resolves outside.
 */
async function makeDirsInside(rootReal: string, dirKey: string): Promise<boolean> {
  let dir = rootReal;
  for (const segment of dirKey.split('/')) {
    const next = join(dir, segment);
    await mkdir(next).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    dir = await realpath(next);
    if (!isInside(rootReal, dir)) return false;
  }
  return true;
}

export async function trashFiles(
  rootReal: string,
  items: readonly TrashRequest[],
  concurrency: number,
  signal?: AbortSignal,
  beforeKey?: (key: string) => void | Promise<void>,
): Promise<KeyOutcome[]> {
  const made = new Map<string, Promise<boolean>>();
  const earlier = new EarlierCopies(rootReal);
  return mapLimit(items, concurrency, async (item): Promise<KeyOutcome> =>
    signal?.aborted
      ? { key: item.key, outcome: 'failed', code: ErrorCodes.ABORTED, message: 'run stopped before this key', retryable: true }
      : await trashOne(rootReal, item, made, earlier, beforeKey),
  );
}

async function trashOne(
  rootReal: string,
  { key, trashKey }: TrashRequest,
  made: Map<string, Promise<boolean>>,
  earlier: EarlierCopies,
  beforeKey: ((key: string) => void | Promise<void>) | undefined,
): Promise<KeyOutcome> {
  const problem = checkKey(key) ?? (isReservedKey(key) ? reservedKeyProblem() : null);
  if (problem) return { key, outcome: 'refused', code: problem.code, message: problem.message, retryable: false };
  const parsed = parseTrashKey(trashKey);
  if ('code' in parsed) return { key, outcome: 'refused', code: parsed.code, message: parsed.message, retryable: false };
  if (beforeKey !== undefined) await beforeKey(key);
  const path = join(rootReal, key);
  try {
    const parent = await realParent(path);
    if (parent === null) return earlier.absent(key, parsed.name);
    if (!isInside(rootReal, parent)) return outside(key);
    const resolved = join(parent, path.slice(dirname(path).length + 1));
    const st = await lstat(resolved).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null;
      throw error;
    });
    if (st === null) return earlier.absent(key, parsed.name);
    // A directory is never moved (nor removed): the same rule as deletes.
    if (st.isDirectory())
      return { key, outcome: 'failed', code: 'EISDIR', message: 'EISDIR: not a deletable file (a directory is at this key)', retryable: false };
    // A symlink or one of several hard links in the trash would be "purged" with its data intact.
    const links = fileLinkProblem(st.isSymbolicLink(), st.nlink);
    if (links) return { key, outcome: 'refused', code: links.code, message: links.message, retryable: false };
    // The trash side failing (its directory gone or unmade) is a failure, never "absent": the file is still here.
    const trashReal = await trashDir(rootReal, trashKey, made).catch((error: NodeJS.ErrnoException) => error);
    if (trashReal === null)
      return {
        key,
        outcome: 'refused',
        code: ErrorCodes.KEY_OUTSIDE_ROOT,
        message: `${TRASH_DIR} resolves outside the storage root (symlink)`,
        retryable: false,
      };
    if (typeof trashReal !== 'string') return failure(key, trashReal, 'move to trash');
    try {
      // Residual window: rename walks both paths again (Node has no renameat); docs/safety.md.
      await rename(resolved, join(trashReal, trashKey.slice(trashKey.lastIndexOf('/') + 1)));
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      if (
        e.code === 'ENOENT' &&
        (await lstat(resolved).then(
          () => true,
          () => false,
        ))
      )
        return failure(key, e, 'move to trash');
      throw error;
    }
    return { key, outcome: 'erased', trash: trashKey };
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') return earlier.absent(key, parsed.name);
    return failure(key, e, 'move to trash');
  }
}

/**
 * Finds a trash copy an earlier, interrupted attempt made (the rename happened, the ledger write
 * did not): the run directories are listed once per call, then each absent key is looked up in
 * them, newest run first. Absent keys are rare, so this costs nothing on the usual path.
 */
class EarlierCopies {
  #runs: Promise<string[]> | undefined;
  constructor(private readonly rootReal: string) {}

  #listRuns(): Promise<string[]> {
    this.#runs ??= (async () => {
      const base = join(this.rootReal, TRASH_DIR);
      const names = await readdir(base).catch(() => [] as string[]);
      const dated = await Promise.all(names.map(async (n) => ({ n, t: (await stat(join(base, n)).catch(() => null))?.mtimeMs ?? 0 })));
      return dated.sort((a, b) => b.t - a.t).map((d) => d.n);
    })();
    return this.#runs;
  }

  async absent(key: string, name: string): Promise<KeyOutcome> {
    for (const run of await this.#listRuns()) {
      const trashKey = `${TRASH_DIR}/${run}/${name}`;
      if ('code' in parseTrashKey(trashKey)) continue;
      const st = await lstat(join(this.rootReal, trashKey)).catch(() => null);
      if (st && !st.isDirectory()) return { key, outcome: 'absent', trash: trashKey };
    }
    return { key, outcome: 'absent' };
  }
}

/** Brings a trash copy back to its key with link + unlink, so an object at the key is never overwritten. */
export async function restoreFile(rootReal: string, trash: string, key: string): Promise<RestoreOutcome> {
  const problem = checkKey(key) ?? (isReservedKey(key) ? reservedKeyProblem() : null);
  const parsed = parseTrashKey(trash);
  if (problem) return { outcome: 'failed', code: problem.code, message: problem.message };
  if ('code' in parsed) return { outcome: 'failed', code: parsed.code, message: parsed.message };
  const from = join(rootReal, trash);
  const to = join(rootReal, key);
  try {
    const fromParent = await realpath(dirname(from)).catch(() => null);
    if (fromParent === null) return { outcome: 'missing' };
    if (!isInside(join(rootReal, TRASH_DIR), fromParent))
      return { outcome: 'failed', code: ErrorCodes.KEY_OUTSIDE_ROOT, message: `${TRASH_DIR} resolves outside the storage root (symlink)` };
    const source = join(fromParent, from.slice(dirname(from).length + 1));
    const target = await safeParent(rootReal, key);
    if (target === null)
      return { outcome: 'failed', code: ErrorCodes.KEY_OUTSIDE_ROOT, message: 'file_key: its directory resolves outside the storage root (symlink)' };
    const dest = join(target, to.slice(dirname(to).length + 1));
    try {
      // Residual window: link walks the checked real paths again (no linkat in Node); docs/safety.md.
      await link(source, dest);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { outcome: 'missing' };
      if (code !== 'EEXIST') throw error;
      // A restore that stopped between link and unlink left both names on one file: finish it.
      const [a, b] = await Promise.all([lstat(source), lstat(dest)]);
      if (a.ino !== b.ino || a.dev !== b.dev) return { outcome: 'occupied' };
    }
    await unlink(source);
    await removeEmptyDirs(rootReal, dirname(source));
    return { outcome: 'restored' };
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return { outcome: 'failed', code: e.code ?? ErrorCodes.STORAGE, message: `restore from trash: ${e.message}` };
  }
}

/** Creates the key's directory when missing, only under the root (makeDirsInside); its real path, or null when it would lie outside. */
async function safeParent(rootReal: string, key: string): Promise<string | null> {
  const slash = key.lastIndexOf('/');
  if (slash >= 0 && !(await makeDirsInside(rootReal, key.slice(0, slash)))) return null;
  const real = await realpath(slash < 0 ? rootReal : join(rootReal, key.slice(0, slash)));
  return isInside(rootReal, real) ? real : null;
}

/** Deletes trash copies for good; an already missing copy is `absent` (a rerun after a crash). */
export async function purgeFiles(rootReal: string, trash: readonly string[], concurrency: number): Promise<KeyOutcome[]> {
  const dirs = new Set<string>();
  const out = await mapLimit(trash, concurrency, async (key): Promise<KeyOutcome> => {
    const parsed = parseTrashKey(key);
    if ('code' in parsed) return { key, outcome: 'refused', code: parsed.code, message: parsed.message, retryable: false };
    const path = join(rootReal, key);
    try {
      const parent = await realpath(dirname(path));
      if (!isInside(join(rootReal, TRASH_DIR), parent)) {
        return {
          key,
          outcome: 'refused',
          code: ErrorCodes.KEY_OUTSIDE_ROOT,
          message: `${TRASH_DIR} resolves outside the storage root (symlink)`,
          retryable: false,
        };
      }
      // Checked per key, right before it; residual window: unlink walks the path again (docs/safety.md).
      await unlink(join(parent, path.slice(dirname(path).length + 1)));
      dirs.add(parent);
      return { key, outcome: 'erased' };
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      return e.code === 'ENOENT' || e.code === 'ENOTDIR' ? { key, outcome: 'absent' } : failure(key, e, 'purge');
    }
  });
  for (const dir of dirs) await removeEmptyDirs(rootReal, dir);
  return out;
}

/** Removes now-empty directories from `dir` up to (and including) its run directory; best effort. */
async function removeEmptyDirs(rootReal: string, dir: string): Promise<void> {
  const base = join(rootReal, TRASH_DIR);
  let d = dir;
  while (isInside(base, d) && d !== base) {
    try {
      await rmdir(d);
    } catch {
      return;
    }
    d = dirname(d);
  }
}
