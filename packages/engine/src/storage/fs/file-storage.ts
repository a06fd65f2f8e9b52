import {
  accessSync,
  close as closeThen,
  constants as fsConstants,
  lstat as lstatThen,
  open as openThen,
  readlink as readlinkThen,
  realpath as realpathThen,
  unlink as unlinkThen,
  type Stats,
} from 'node:fs';
import { lstat, opendir, realpath } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { ErrorCodes, LetheError } from '../../errors.js';
import type { KeyOutcome, ObjectBody, ObjectInfo, ProbeResult, RestoreOutcome, StoragePort, TrashRequest, WriteOutcome } from '../../ports.js';
import { findSymlinkedDirectories, pingRoot, probeRoot, readFileObject, writeFileObject, type SymlinkedDirectories } from './objects.js';
import { purgeFiles, restoreFile, trashFiles } from './trash.js';
import { checkKey, fileLinkProblem, isInside } from '../keys.js';
import { isReservedKey, reservedKeyProblem } from '../trash-keys.js';
import { mapLimit } from '../map-limit.js';
import { PinLocation } from './pin-location.js';

export interface FileStorageOptions {
  /** Absolute path of the storage root. */
  readonly root: string;
  /** Unlinks in flight per deleteMany call (libuv's thread pool is the real limit). */
  readonly concurrency?: number;
  /**
   * Tests only: called before each key of deleteMany / trashMany is checked, so a test can change
   * the tree between two keys deterministically (a directory swapped for a symlink mid-batch).
   */
  readonly beforeKey?: (key: string) => void | Promise<void>;
}

/** Directory names under the root that Lethe owns and that listing skips. */
export const RESERVED_PREFIX = '.lethe';

/**
 * Filesystem storage. Safety: the key is checked lexically; then its parent directory must lie
 * under the real path of the root (a symlinked directory cannot lead out): on Linux checked once
 * per batch on an fd that pins the directory for that batch (DirectoryPins), elsewhere resolved
 * per key right before its unlink. An lstat of the file must show a regular file with one link: a
 * symlink at the key or a file with other hard links is refused (unlinking that name would not
 * erase the data). Only files are unlinked; a directory fails, never removed. The lstat and unlink
 * go through the pinned fd, or the path built from the resolved real parent.
 */
export class FileStorage implements StoragePort {
  readonly describe: string;
  readonly #root: string;
  readonly #concurrency: number;
  readonly #beforeKey: ((key: string) => void | Promise<void>) | undefined;
  #rootReal: Promise<string> | undefined;

  constructor(options: FileStorageOptions) {
    this.#root = options.root;
    this.#concurrency = options.concurrency ?? 64;
    this.#beforeKey = options.beforeKey;
    this.describe = `file://${options.root}`;
  }

  #realRoot(): Promise<string> {
    this.#rootReal ??= realpath(this.#root).catch((error: unknown) => {
      this.#rootReal = undefined;
      throw new LetheError(ErrorCodes.STORAGE, `storage root ${this.#root} is not reachable: ${(error as Error).message}`, { cause: error });
    });
    return this.#rootReal;
  }

  async deleteMany(keys: readonly string[], signal?: AbortSignal): Promise<KeyOutcome[]> {
    const rootReal = await this.#realRoot();
    const rootPrefix = rootReal.endsWith(sep) ? rootReal : rootReal + sep;
    const pins = PIN_DIRECTORIES ? new DirectoryPins(rootReal, rootPrefix) : null;
    try {
      return await mapLimit(keys, this.#concurrency, (key): Promise<KeyOutcome> =>
        signal?.aborted
          ? Promise.resolve({ key, outcome: 'failed', code: ErrorCodes.ABORTED, message: 'run stopped before this key', retryable: true })
          : this.#deleteOne(rootReal, rootPrefix, key, pins),
      );
    } finally {
      await pins?.close();
    }
  }

  /**
   * The hot path (one call per file). The key has passed `checkKey` (relative, no `.`/`..`/empty
   * segments, no backslash), so its paths are plain string work: no path.join per file. On Linux
   * its directory is pinned by an fd for this batch (DirectoryPins: opened and checked inside the
   * root once per batch, never cached across batches), it must still be where it was checked, and
   * the leaf is lstat'ed and unlinked through the fd; elsewhere, or for a symlinked
   * directory, each key resolves its parent again.
   */
  #deleteOne(rootReal: string, rootPrefix: string, key: string, pins: DirectoryPins | null): Promise<KeyOutcome> {
    // A row naming a key under .lethe/ must not reach into Lethe's trash.
    const problem = checkKey(key) ?? (isReservedKey(key) ? reservedKeyProblem() : null);
    if (problem) return Promise.resolve({ key, outcome: 'refused', code: problem.code, message: problem.message, retryable: false });
    const beforeKey = this.#beforeKey;
    if (beforeKey !== undefined) return Promise.resolve(beforeKey(key)).then(() => eraseKey(rootReal, rootPrefix, key, pins));
    return eraseKey(rootReal, rootPrefix, key, pins);
  }

  /** Undo window: renames into `.lethe/trash/` (see trash.ts). */
  async trashMany(items: readonly TrashRequest[], signal?: AbortSignal): Promise<KeyOutcome[]> {
    return trashFiles(await this.#realRoot(), items, this.#concurrency, signal, this.#beforeKey);
  }

  async restoreFromTrash(trash: string, key: string): Promise<RestoreOutcome> {
    return restoreFile(await this.#realRoot(), trash, key);
  }

  async purgeTrash(trash: readonly string[]): Promise<KeyOutcome[]> {
    return purgeFiles(await this.#realRoot(), trash, this.#concurrency);
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    const problem = checkKey(key);
    if (problem) throw new LetheError(problem.code as typeof ErrorCodes.KEY_INVALID, problem.message);
    const rootReal = await this.#realRoot();
    const path = join(rootReal, key);
    try {
      const parentReal = await realpath(dirname(path));
      if (!isInside(rootReal, parentReal)) {
        throw new LetheError(ErrorCodes.KEY_OUTSIDE_ROOT, 'file_key: its directory resolves outside the storage root (symlink)');
      }
      const st = await lstat(path);
      return st.isDirectory() ? null : { key, size: st.size, modifiedMs: st.mtimeMs };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw error;
    }
  }

  /** Whole-object operations (run preflight, `lethe doctor`, restore from a backup): see objects.ts. */
  async ping(): Promise<void> {
    await pingRoot(this.#root, await this.#realRoot());
  }

  async probe(name: string): Promise<ProbeResult> {
    return probeRoot(await this.#realRoot(), name);
  }

  /** `lethe doctor`: symlinked directories under the root (a bounded walk; see objects.ts). */
  async symlinkedDirectories(maxEntries: number): Promise<SymlinkedDirectories> {
    return findSymlinkedDirectories(await this.#realRoot(), maxEntries);
  }

  async readObject(key: string): Promise<ObjectBody | null> {
    return readFileObject(await this.#realRoot(), key);
  }

  async writeObject(key: string, source: ObjectBody): Promise<WriteOutcome> {
    return writeFileObject(await this.#realRoot(), key, source);
  }

  async *list(prefix = ''): AsyncIterable<ObjectInfo> {
    const rootReal = await this.#realRoot();
    const start = prefix === '' ? rootReal : join(rootReal, prefix);
    yield* walk(rootReal, start);
  }

  async close(): Promise<void> {}
}

async function* walk(rootReal: string, dir: string): AsyncIterable<ObjectInfo> {
  let handle;
  try {
    handle = await opendir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for await (const entry of handle) {
    const full = join(dir, entry.name);
    const key = relative(rootReal, full).split(sep).join('/');
    if (key === RESERVED_PREFIX || key.startsWith(`${RESERVED_PREFIX}/`)) continue;
    if (entry.isDirectory()) {
      yield* walk(rootReal, full);
    } else if (entry.isFile()) {
      const st = await lstat(full).catch(() => null);
      if (st) yield { key, size: st.size, modifiedMs: st.mtimeMs };
    }
  }
}

/**
 * One checked key: through its directory's pin (DirectoryPins) on Linux, else the per-key path.
 * Plain promise plumbing, no async function per key: this runs once per file, and each await
 * layer costs a microtask and a promise (docs/performance.md#peers-floor).
 */
function eraseKey(rootReal: string, rootPrefix: string, key: string, pins: DirectoryPins | null): Promise<KeyOutcome> {
  if (pins === null) return eraseFile(rootReal, rootPrefix, key);
  const slash = key.lastIndexOf('/');
  const dir = slash < 0 ? '' : key.slice(0, slash);
  const name = key.slice(slash + 1);
  const ready = pins.settled(dir);
  if (ready !== undefined) return eraseThrough(ready, name, rootReal, rootPrefix, key);
  return pins.get(dir).then((pin) => eraseThrough(pin, name, rootReal, rootPrefix, key));
}

function eraseThrough(pin: Pin, name: string, rootReal: string, rootPrefix: string, key: string): Promise<KeyOutcome> {
  if (pin === FALLBACK) return eraseFile(rootReal, rootPrefix, key);
  if ('failure' in pin) return Promise.resolve(pin.failure(key));
  return erasePinned(pin, name, rootReal, rootPrefix, key);
}

/**
 * One key, without a pinned directory: the real path of its parent (resolved now) inside the root,
 * then the leaf checked and unlinked on the path built from the real parent.
 * Callbacks under one promise: the promise API's three promises a file cost about twice the
 * main-thread time per call here (lstat 40k/s against 75-115k/s with a callback, 64 in flight).
 */
function eraseFile(rootReal: string, rootPrefix: string, key: string): Promise<KeyOutcome> {
  const slash = key.lastIndexOf('/');
  return new Promise((resolve) => {
    realpathThen.native(slash < 0 ? rootReal : rootPrefix + key.slice(0, slash), (error, parent) => {
      if (error) return resolve(fsFailure(key, error));
      if (parent !== rootReal && !parent.startsWith(rootPrefix)) return resolve(outsideRoot(key));
      const path = parent === rootReal ? rootPrefix + key.slice(slash + 1) : parent + sep + key.slice(slash + 1);
      // Residual window: the path is walked again by lstat and unlink (docs/safety.md#file-storage).
      resolve(eraseLeaf(path, key));
    });
  });
}

/**
 * The leaf: an lstat (one link, not a symlink, not a directory), then the unlink of the same path.
 * Callbacks under one promise (see eraseFile).
 */
function eraseLeaf(path: string, key: string): Promise<KeyOutcome> {
  return new Promise((resolve) => {
    lstatThen(path, (error, st) => {
      if (error) return resolve(fsFailure(key, error));
      const refusal = leafRefusal(key, st);
      if (refusal) return resolve(refusal);
      unlinkThen(path, (error2) => resolve(error2 ? fsFailure(key, error2) : { key, outcome: 'erased' }));
    });
  });
}

/**
 * A key in a pinned directory. Two things at once: where the pinned directory is now (its
 * PinLocation: a `readlink` of its fd issued after this key started; the directory must still be
 * at the real path it was checked at; a directory moved since the pin, renamed away or out of the
 * root with a symlink put in its place, sends the key to the per-key path, which refuses one that
 * leads out), and an lstat of the leaf through the fd; then the unlink through the fd, which walks
 * no path component that could be swapped (docs/safety.md#file-storage).
 */
function erasePinned(pin: PinnedDirectory, name: string, rootReal: string, rootPrefix: string, key: string): Promise<KeyOutcome> {
  const path = pin.base + name;
  return new Promise((resolve) => {
    let leaf: { readonly st: Stats } | { readonly error: NodeJS.ErrnoException } | undefined;
    let inPlace: boolean | undefined;
    const settle = (): void => {
      if (leaf === undefined || inPlace === undefined) return;
      if (!inPlace) return resolve(eraseFile(rootReal, rootPrefix, key));
      if ('error' in leaf) return resolve(fsFailure(key, leaf.error));
      const refusal = leafRefusal(key, leaf.st);
      if (refusal) return resolve(refusal);
      unlinkThen(path, (error) => resolve(error ? fsFailure(key, error) : { key, outcome: 'erased' }));
    };
    pin.location.check((ok) => {
      inPlace = ok;
      settle();
    });
    lstatThen(path, (error, st) => {
      leaf = error ? { error } : { st };
      settle();
    });
  });
}

function leafRefusal(key: string, st: Stats): KeyOutcome | null {
  if (st.isDirectory())
    return { key, outcome: 'failed', code: 'EISDIR', message: 'EISDIR: not a deletable file (a directory is at this key)', retryable: false };
  const links = fileLinkProblem(st.isSymbolicLink(), st.nlink);
  return links ? { key, outcome: 'refused', code: links.code, message: links.message, retryable: false } : null;
}

/**
 * Linux exposes an open directory as `/proc/self/fd/<fd>/`: a path through it starts at that
 * directory's inode and walks nothing above it. Checked once per process; elsewhere, or without
 * /proc, every key resolves its parent (eraseFile).
 */
const PIN_DIRECTORIES =
  process.platform === 'linux' &&
  (() => {
    try {
      accessSync('/proc/self/fd');
      return true;
    } catch {
      return false;
    }
  })();

/** Directories pinned at once by one deleteMany call; beyond, keys take the per-key path (no fd exhaustion). */
const MAX_PINS = 256;

const FALLBACK = Symbol('per-key path');
interface PinnedDirectory {
  readonly fd: number;
  /** `/proc/self/fd/<fd>` */
  readonly fdPath: string;
  /** `/proc/self/fd/<fd>/` */
  readonly base: string;
  /** The directory's real path when it was checked inside the root. */
  readonly real: string;
  /** Whether it is still there, asked per key (erasePinned). */
  readonly location: PinLocation;
}
type Pin = PinnedDirectory | { readonly failure: (key: string) => KeyOutcome } | typeof FALLBACK;

/**
 * One batch's directories, each opened once (O_DIRECTORY | O_NOFOLLOW) and checked inside the
 * root by the fd's own path (`readlink /proc/self/fd/<fd>`, what the kernel resolved, so a
 * symlinked component above it counts as resolved). Each key then checks that the directory is
 * still at that path (erasePinned) and acts through the fd, so nothing between that check and the
 * unlink can redirect it. Closed at the end of the batch, so the next batch opens and checks
 * again (docs/safety.md#file-storage). A directory that is itself
 * a symlink (ELOOP), one that cannot be opened, or any surprise while pinning, falls back to the
 * per-key path.
 */
class DirectoryPins {
  readonly #rootReal: string;
  readonly #rootPrefix: string;
  readonly #pins = new Map<string, Promise<Pin>>();
  /** Pins whose open has finished, for keys that need not wait a microtask for them. */
  readonly #settled = new Map<string, Pin>();

  constructor(rootReal: string, rootPrefix: string) {
    this.#rootReal = rootReal;
    this.#rootPrefix = rootPrefix;
  }

  /** The directory's pin if it is open (or has failed) already; undefined while opening, or never asked. */
  settled(dir: string): Pin | undefined {
    return this.#settled.get(dir);
  }

  get(dir: string): Promise<Pin> {
    let pin = this.#pins.get(dir);
    if (pin === undefined) {
      if (this.#pins.size >= MAX_PINS) return Promise.resolve(FALLBACK);
      pin = this.#open(dir).then((p) => {
        this.#settled.set(dir, p);
        return p;
      });
      this.#pins.set(dir, pin);
    }
    return pin;
  }

  #open(dir: string): Promise<Pin> {
    const path = dir === '' ? this.#rootReal : this.#rootPrefix + dir;
    return new Promise((resolve) => {
      openThen(path, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW, (error, fd) => {
        // ELOOP: the directory is a symlink (O_NOFOLLOW); EACCES: no read right on it (unlink
        // needs only search and write); ENOENT, EMFILE...: the per-key path answers as it always has.
        if (error) return resolve(FALLBACK);
        const base = `/proc/self/fd/${fd}`;
        readlinkThen(base, (error2, real) => {
          if (error2) return closeThen(fd, () => resolve(FALLBACK));
          if (real !== this.#rootReal && !real.startsWith(this.#rootPrefix)) return closeThen(fd, () => resolve({ failure: outsideRoot }));
          resolve({ fd, fdPath: base, base: `${base}/`, real, location: new PinLocation(base, real) });
        });
      });
    });
  }

  async close(): Promise<void> {
    const pins = await Promise.all(this.#pins.values());
    this.#pins.clear();
    this.#settled.clear();
    await Promise.all(pins.map((p) => (p !== FALLBACK && 'fd' in p ? new Promise<void>((resolve) => closeThen(p.fd, () => resolve())) : undefined)));
  }
}

const outsideRoot = (key: string): KeyOutcome => ({
  key,
  outcome: 'refused',
  code: ErrorCodes.KEY_OUTSIDE_ROOT,
  message: 'file_key: its directory resolves outside the storage root (symlink)',
  retryable: false,
});

function fsFailure(key: string, error: NodeJS.ErrnoException): KeyOutcome {
  switch (error.code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return { key, outcome: 'absent' };
    case 'EISDIR':
    case 'EPERM':
      // Linux answers EISDIR (or EPERM on some filesystems) for unlink on a directory.
      return { key, outcome: 'failed', code: error.code, message: `${error.code}: not a deletable file (${error.message})`, retryable: false };
    case 'EACCES':
    case 'EROFS':
      return { key, outcome: 'failed', code: error.code, message: `permission denied: ${error.message}`, retryable: false };
    default:
      return { key, outcome: 'failed', code: error.code ?? ErrorCodes.STORAGE, message: error.message, retryable: true };
  }
}
