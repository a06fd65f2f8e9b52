import { sep } from 'node:path';
import { ErrorCodes } from '../errors.js';

/**
 * Key safety (DESIGN invariant 4): reject, never normalise. A key is a relative, forward-slash
 * path; anything that could name a place outside the storage root is refused before any I/O.
 */
export interface KeyProblem {
  readonly code: string;
  readonly message: string;
}

export const MAX_KEY_BYTES = 1024;

export function checkKey(key: unknown): KeyProblem | null {
  if (typeof key !== 'string' || key.length === 0) {
    return { code: ErrorCodes.KEY_INVALID, message: 'file_key: must be a non-empty relative path' };
  }
  if (key.includes('\0')) {
    return { code: ErrorCodes.KEY_INVALID, message: 'file_key: must not contain a NUL byte' };
  }
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    return { code: ErrorCodes.KEY_INVALID, message: `file_key: must be at most ${MAX_KEY_BYTES} bytes` };
  }
  if (key.includes('\\')) {
    return { code: ErrorCodes.KEY_OUTSIDE_ROOT, message: 'file_key: backslashes are not allowed (ambiguous separator)' };
  }
  if (key.startsWith('/') || /^[a-zA-Z]:/.test(key)) {
    return { code: ErrorCodes.KEY_OUTSIDE_ROOT, message: 'file_key: must be relative, got an absolute path' };
  }
  for (const segment of key.split('/')) {
    if (segment === '..' || segment === '.') {
      return { code: ErrorCodes.KEY_OUTSIDE_ROOT, message: `file_key: "${segment}" segments are not allowed` };
    }
    if (segment === '') {
      return { code: ErrorCodes.KEY_INVALID, message: 'file_key: empty path segments ("//" or a trailing "/") are not allowed' };
    }
  }
  return null;
}

/**
 * Files (docs/safety.md#storage-that-lies): unlinking a name erases the data only when it is the file's
 * only name. A symlink at the key (its target stays) or a file with other hard links (the data
 * stays under them) is refused, never unlinked. Called with an `lstat` taken right before the unlink.
 */
export function fileLinkProblem(isSymbolicLink: boolean, nlink: number): KeyProblem | null {
  if (isSymbolicLink) {
    return {
      code: ErrorCodes.KEY_SYMLINK,
      message:
        'file_key: is a symbolic link; unlinking it would not erase the file it points to: point the row at the file itself (or remove the link), then rerun',
    };
  }
  if (nlink > 1) {
    return {
      code: ErrorCodes.KEY_HARDLINKED,
      message: `file_key: the file has ${nlink} links; erasing one name would not erase its data: remove the other links, then rerun`,
    };
  }
  return null;
}

/**
 * Whether `candidate` (a real path) is the root or under it. Both sides are real paths (symlinks
 * resolved), and the separator is part of the test: `/data2` is not inside `/data`
 * (docs/safety.md#file-storage-keys-inside-the-root-and-the-residual-window).
 */
export function isInside(rootReal: string, candidate: string): boolean {
  return candidate === rootReal || candidate.startsWith(rootReal.endsWith(sep) ? rootReal : rootReal + sep);
}
