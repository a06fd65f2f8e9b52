import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, copyFile, constants, link, lstat, mkdir, open, opendir, readFile, readlink, realpath, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ErrorCodes, LetheError } from '../../errors.js';
import type { ObjectBody, ProbeResult, ProbeStep, WriteOutcome } from '../../ports.js';
import { checkKey, isInside } from '../keys.js';
import { isReservedKey, reservedKeyProblem } from '../trash-keys.js';

/**
 * Whole-object operations on the filesystem adapter (runbook FM-002, EMERGENCY-002): the root check every run makes
 * first, the `lethe doctor` probe, and reading / writing one file for restores from a backup.
 * Same safety as deletes (DESIGN invariant 4): keys checked lexically, then every directory on
 * the way must resolve under the root's real path, so a symlinked directory cannot lead out.
 */

/** Lethe's own places under the root (skipped by listing, refused as row keys). */
export const DOCTOR_DIR = '.lethe/doctor';
const TMP_DIR = '.lethe/tmp';

/** The root exists and is a directory we can list; a LetheError naming it otherwise. */
export async function pingRoot(root: string, rootReal: string): Promise<void> {
  try {
    const st = await stat(rootReal);
    if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    await access(rootReal, constants.R_OK | constants.X_OK);
  } catch (error) {
    throw new LetheError(ErrorCodes.STORAGE, `storage root ${root} is not reachable: ${(error as Error).message}`, { cause: error });
  }
}

const timed = async (step: ProbeStep['step'], fn: () => Promise<void>): Promise<ProbeStep> => {
  const started = performance.now();
  try {
    await fn();
    return { step, ok: true, ms: Math.round(performance.now() - started) };
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return { step, ok: false, ms: Math.round(performance.now() - started), code: e.code ?? ErrorCodes.STORAGE, message: e.message };
  }
};

/** Writes `.lethe/doctor/<name>`, reads it back, deletes it: the permissions a run and a restore need. */
export async function probeRoot(rootReal: string, name: string): Promise<ProbeResult> {
  const key = `${DOCTOR_DIR}/${name}`;
  const path = join(rootReal, key);
  const content = `lethe doctor probe ${name} ${new Date().toISOString()}\n`;
  const steps: ProbeStep[] = [];
  steps.push(
    await timed('write', async () => {
      await mkdir(dirname(path), { recursive: true });
      if (!isInside(rootReal, await realpath(dirname(path))))
        throw Object.assign(new Error(`${DOCTOR_DIR} resolves outside the storage root`), { code: ErrorCodes.KEY_OUTSIDE_ROOT });
      const file = await open(path, 'wx');
      try {
        await file.writeFile(content);
        await file.sync();
      } finally {
        await file.close();
      }
    }),
  );
  if (steps[0]!.ok) {
    steps.push(
      await timed('read', async () => {
        if ((await readFile(path, 'utf8')) !== content)
          throw Object.assign(new Error('read back different bytes than written'), { code: 'LETHE_E_PROBE_MISMATCH' });
      }),
    );
    steps.push(await timed('delete', () => unlink(path)));
  }
  return { key, steps };
}

/** The real path of the key's parent directory, checked to be under the root; null when it does not exist. */
async function parentInside(rootReal: string, key: string): Promise<string | null> {
  try {
    const real = await realpath(dirname(join(rootReal, key)));
    if (!isInside(rootReal, real)) throw new LetheError(ErrorCodes.KEY_OUTSIDE_ROOT, 'file_key: its directory resolves outside the storage root (symlink)');
    return real;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw error;
  }
}

function checked(key: string): void {
  const problem = checkKey(key) ?? (isReservedKey(key) ? reservedKeyProblem() : null);
  if (problem) throw new LetheError(problem.code as typeof ErrorCodes.KEY_INVALID, problem.message);
}

export async function readFileObject(rootReal: string, key: string): Promise<ObjectBody | null> {
  checked(key);
  const parent = await parentInside(rootReal, key);
  if (parent === null) return null;
  const path = join(parent, key.slice(key.lastIndexOf('/') + 1));
  const st = await lstat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  if (!st || !st.isFile()) return null;
  return { body: createReadStream(path), size: st.size };
}

/** Makes the key's directories one at a time, each checked under the root before the next. */
async function makeParents(rootReal: string, key: string): Promise<string> {
  let dir = rootReal;
  for (const segment of key.split('/').slice(0, -1)) {
    const next = join(dir, segment);
    await mkdir(next).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    dir = await realpath(next);
    if (!isInside(rootReal, dir)) throw new LetheError(ErrorCodes.KEY_OUTSIDE_ROOT, 'file_key: its directory resolves outside the storage root (symlink)');
  }
  return dir;
}

/**
 * Streams into `.lethe/tmp/`, then links the file into place: `link` never replaces an existing
 * file (EEXIST), so a restore can never overwrite one, and readers never see half a file.
 */
export async function writeFileObject(rootReal: string, key: string, source: ObjectBody): Promise<WriteOutcome> {
  checked(key);
  let tmp: string | null = null;
  try {
    const parent = await makeParents(rootReal, key);
    const path = join(parent, key.slice(key.lastIndexOf('/') + 1));
    if (
      await lstat(path).then(
        () => true,
        () => false,
      )
    )
      return { outcome: 'occupied' };
    await mkdir(join(rootReal, TMP_DIR), { recursive: true });
    tmp = join(rootReal, TMP_DIR, `restore-${randomUUID()}`);
    await pipeline(source.body, createWriteStream(tmp, { flags: 'wx' }));
    const size = (await stat(tmp)).size;
    if (size !== source.size) return { outcome: 'failed', code: 'LETHE_E_SIZE_MISMATCH', message: `copied ${size} bytes, the source said ${source.size}` };
    try {
      await link(tmp, path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return { outcome: 'occupied' };
      // Another filesystem mounted under the root: copy, still never over an existing file.
      if (code !== 'EXDEV') throw error;
      await copyFile(tmp, path, constants.COPYFILE_EXCL);
    }
    return { outcome: 'written', size };
  } catch (error) {
    if (error instanceof LetheError) throw error;
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'EEXIST') return { outcome: 'occupied' };
    return { outcome: 'failed', code: e.code ?? ErrorCodes.STORAGE, message: e.message };
  } finally {
    if (tmp !== null) await unlink(tmp).catch(() => {});
  }
}

/** What `lethe doctor` saw of symlinked directories under a root (a bounded walk). */
export interface SymlinkedDirectories {
  /** The first few, as `key -> link target`. */
  readonly examples: readonly string[];
  readonly count: number;
  readonly entriesWalked: number;
  /** True when the walk stopped at its entry limit: there may be more. */
  readonly bounded: boolean;
}

/**
 * Symlinks to directories under the root (`.lethe/` skipped; links are never followed): through
 * one, two keys can name one file, which the shared-key guard (it compares keys) cannot see.
 * Breadth first, at most `maxEntries` directory entries.
 */
export async function findSymlinkedDirectories(rootReal: string, maxEntries: number, maxExamples = 5): Promise<SymlinkedDirectories> {
  const examples: string[] = [];
  let count = 0;
  let walked = 0;
  const queue: string[] = [''];
  for (let q = 0; q < queue.length; q++) {
    const rel = queue[q]!;
    const dir = await opendir(rel === '' ? rootReal : join(rootReal, rel)).catch(() => null);
    if (dir === null) continue;
    // Leaving the loop early (the bound) closes the directory handle.
    for await (const entry of dir) {
      if (walked >= maxEntries) return { examples, count, entriesWalked: walked, bounded: true };
      walked++;
      const key = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (key === '.lethe') continue;
      if (entry.isDirectory()) queue.push(key);
      else if (
        entry.isSymbolicLink() &&
        (await stat(join(rootReal, key)).then(
          (st) => st.isDirectory(),
          () => false,
        ))
      ) {
        count++;
        if (examples.length < maxExamples) examples.push(`${key} -> ${await readlink(join(rootReal, key)).catch(() => '?')}`);
      }
    }
  }
  return { examples, count, entriesWalked: walked, bounded: false };
}
