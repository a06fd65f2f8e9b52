import { posix } from 'node:path';
import { ErrorCodes } from '../../errors.js';
import { checkKey, MAX_KEY_BYTES, type KeyProblem } from '../keys.js';

/** Keys under this prefix (relative to the configured prefix) are Lethe's own; listing skips them. */
export const S3_RESERVED_PREFIX = '.lethe/';

/**
 * Maps a row's `file_key` to the object key in the bucket (DESIGN invariant 4, docs/storage-s3.md#configuration).
 * Order matters: the lexical check runs first (reject, never normalise), then the configured
 * prefix is always applied, and the result must still lie under the prefix after POSIX
 * normalisation. S3 itself does not normalise keys, but proxies, path-style URL handling and
 * other tools may, so an object key that would collapse outside the prefix is refused.
 */
export function toObjectKey(prefix: string, key: string): { readonly objectKey: string } | { readonly problem: KeyProblem } {
  const problem = checkKey(key);
  if (problem) return { problem };
  const objectKey = prefix + key;
  if (posix.normalize(objectKey) !== objectKey || !objectKey.startsWith(prefix)) {
    return { problem: { code: ErrorCodes.KEY_OUTSIDE_ROOT, message: `file_key: would leave the prefix "${prefix}" after normalisation` } };
  }
  if (Buffer.byteLength(objectKey, 'utf8') > MAX_KEY_BYTES) {
    return { problem: { code: ErrorCodes.KEY_INVALID, message: `file_key: with the prefix "${prefix}" it exceeds S3's ${MAX_KEY_BYTES}-byte key limit` } };
  }
  return { objectKey };
}

/**
 * The list prefix for `list(sub)`: like FileStorage, `sub` names a directory under the root, so
 * `list('a')` lists `a/...` and never `ab...`. Returns null for an unsafe `sub`.
 */
export function listPrefix(prefix: string, sub: string): string | null {
  const trimmed = sub.replace(/\/+$/, '');
  if (trimmed === '') return prefix;
  const mapped = toObjectKey(prefix, trimmed);
  return 'objectKey' in mapped ? `${mapped.objectKey}/` : null;
}

/** The row-level key of an object listed under the prefix; null for keys Lethe does not report. */
export function fromObjectKey(prefix: string, objectKey: string): string | null {
  if (!objectKey.startsWith(prefix)) return null;
  const key = objectKey.slice(prefix.length);
  // Directory placeholders ("folder/") are not files, and `.lethe/` is Lethe's own (as in FileStorage).
  if (key === '' || key.endsWith('/') || key.startsWith(S3_RESERVED_PREFIX) || key === '.lethe') return null;
  return key;
}

/**
 * XML 1.0 cannot carry most C0 control characters (nor U+FFFE/U+FFFF or lone surrogates), and XML
 * parsers rewrite CR and other line ends, so a DeleteObjects body with such a key is malformed or
 * names another key. Those keys are deleted one request each (DeleteObject carries the key in the
 * URL, not in XML), so one odd key can neither fail a batch of 1000 nor hit the wrong object.
 */
export function fitsDeleteObjectsXml(key: string): boolean {
  return !/[\u0000-\u0008\u000A-\u001F\u0085\u2028\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(key);
}
