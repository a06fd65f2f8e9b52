import { ErrorCodes } from '../errors.js';
import { checkKey, type KeyProblem } from './keys.js';

/**
 * Where the undo window keeps erased files (docs/safety.md#undo-window-default-off): `.lethe/trash/<runId>/<name>` under the
 * storage root (a directory, or a bucket prefix). `.lethe/` is Lethe's own (FileStorage.list skips
 * it), so no job row may name a key there: a row cannot reach into the trash and erase early.
 * `<name>` is the file's key, or its keyed hash when the ledger stores keys as HMACs, so the
 * trash location in the ledger never holds a plain key in that mode.
 */
export const TRASH_DIR = '.lethe/trash';

const RUN_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function trashKeyFor(runId: string, name: string): string {
  return `${TRASH_DIR}/${runId}/${name}`;
}

/** `{ run, name }` of a trash location, or a problem: the shape is checked, never normalised. */
export function parseTrashKey(trash: string): { run: string; name: string } | KeyProblem {
  const prefix = `${TRASH_DIR}/`;
  if (typeof trash !== 'string' || !trash.startsWith(prefix)) {
    return { code: ErrorCodes.KEY_OUTSIDE_ROOT, message: `trash location: must start with ${prefix}, got ${JSON.stringify(trash)}` };
  }
  const rest = trash.slice(prefix.length);
  const slash = rest.indexOf('/');
  const run = slash < 0 ? '' : rest.slice(0, slash);
  if (!RUN_ID_RE.test(run)) return { code: ErrorCodes.KEY_INVALID, message: `trash location: expected ${prefix}<run id>/<name>, got ${JSON.stringify(trash)}` };
  const name = rest.slice(slash + 1);
  const problem = checkKey(name);
  return problem ?? { run, name };
}

/** Keys under `.lethe/` belong to Lethe: a job row naming one is refused, never acted on. */
export function isReservedKey(key: string): boolean {
  return key === '.lethe' || key.startsWith('.lethe/');
}

export function reservedKeyProblem(): KeyProblem {
  return { code: ErrorCodes.KEY_OUTSIDE_ROOT, message: 'file_key: keys under .lethe/ are reserved for Lethe (its trash)' };
}
