import { ErrorCodes, LetheError } from '../../errors.js';
import type { KeyOutcome, RestoreOutcome, TrashRequest } from '../../ports.js';
import { deleteTargets, requestFailure, type DeleteContext, type DeleteTarget } from './delete.js';
import { toObjectKey } from './keys.js';
import { S3RequestError } from './sender.js';
import { listKeyVersions, type VersioningState } from './versions.js';
import { isReservedKey, parseTrashKey, reservedKeyProblem, TRASH_DIR } from '../trash-keys.js';
import { mapLimit } from '../map-limit.js';

/**
 * The undo window on S3 (docs/safety.md#undo-window-default-off), in two shapes:
 *
 * - copy (unversioned buckets, `erase-all` mode, and keys hashed for the ledger): CopyObject into
 *   `<prefix>.lethe/trash/<run>/<name>`, then the original is deleted the way the adapter deletes
 *   (every version in `erase-all`). The location is that trash key. Objects over 5 GB cannot be
 *   copied in one request (EntityTooLarge): they fail, and their rows stay.
 * - version (a versioning-Enabled bucket in `keep` mode): the plain delete leaves a delete marker
 *   and the prior version stays; its VersionId is the location (`<trash key>?versionId=<id>`), so
 *   no copy is made. The location names the key, so this shape is used only when the trash name is
 *   the key itself (not in HMAC mode, where the copy shape keeps keys out of the ledger), and only
 *   for a real VersionId: a `null` version (written while versioning was off or Suspended) is
 *   replaced by the next upload at the key, or removed by the delete itself on a Suspended bucket,
 *   so such a file is copied instead. A Suspended bucket in `keep` mode is refused at run start
 *   (`checkUndoWindow`): a `?versionId=null` location recorded there once could not be restored,
 *   and a later purge deleted a newer upload at the key.
 *
 * Restores copy back (never over a different object: an equal ETag means an interrupted restore
 * already did it), purges delete the copy or the version, after checking it is not newer than its
 * trash record (trash-purge.ts). A copy made before a crash that stopped
 * the delete of the original is left in the trash unrecorded (the rerun copies again): it is under
 * `.lethe/trash/<run>/` for an operator to see, never deleted by Lethe on a guess.
 */
export interface S3TrashContext extends DeleteContext {
  readonly prefix: string;
  readonly mode: 'erase-all' | 'keep';
  readonly versioning: () => Promise<VersioningState>;
  readonly concurrency: number;
}

const VERSION_MARK = '?versionId=';

export interface Located {
  readonly objectKey: string;
  readonly versionId?: string;
}

/** Where a trash location lives in the bucket; a problem for anything but `.lethe/trash/<run>/<name>[?versionId=]`. */
export function locate(ctx: S3TrashContext, trash: string): Located | { readonly problem: string } {
  const mark = trash.indexOf(VERSION_MARK);
  const base = mark < 0 ? trash : trash.slice(0, mark);
  const parsed = parseTrashKey(base);
  if ('code' in parsed) return { problem: parsed.message };
  if (mark >= 0) {
    const mapped = toObjectKey(ctx.prefix, parsed.name);
    return 'problem' in mapped ? { problem: mapped.problem.message } : { objectKey: mapped.objectKey, versionId: trash.slice(mark + VERSION_MARK.length) };
  }
  const mapped = toObjectKey(ctx.prefix, base);
  return 'problem' in mapped ? { problem: mapped.problem.message } : { objectKey: mapped.objectKey };
}

/** A VersionId that names one immutable version; `null` (or none) names whatever is uploaded next. */
const isRealVersion = (versionId: string | undefined): versionId is string => versionId !== undefined && versionId !== '' && versionId !== 'null';

const isMissing = (error: unknown): boolean =>
  error instanceof S3RequestError && (error.info.status === 404 || ['NoSuchKey', 'NotFound', 'NoSuchVersion'].includes(error.info.code));

export async function head(
  ctx: S3TrashContext,
  objectKey: string,
  versionId?: string,
): Promise<{ versionId: string | undefined; etag: string | undefined; lastModifiedMs: number | null } | null> {
  try {
    const out = await ctx.sender.read(() =>
      ctx.client.send(new ctx.sdk.s3.HeadObjectCommand({ Bucket: ctx.bucket, Key: objectKey, ...(versionId ? { VersionId: versionId } : {}) })),
    );
    return { versionId: out.VersionId, etag: out.ETag, lastModifiedMs: out.LastModified?.getTime() ?? null };
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
}

async function copy(ctx: S3TrashContext, from: Located, to: string): Promise<void> {
  const source = `${ctx.bucket}/${from.objectKey.split('/').map(encodeURIComponent).join('/')}${from.versionId ? `?versionId=${encodeURIComponent(from.versionId)}` : ''}`;
  await ctx.sender.read(() => ctx.client.send(new ctx.sdk.s3.CopyObjectCommand({ Bucket: ctx.bucket, Key: to, CopySource: source })));
}

/** Deletes objects the way the adapter does: every version in `erase-all` on a versioned bucket, else a plain delete. */
async function eraseObjects(ctx: S3TrashContext, objectKeys: readonly string[], signal?: AbortSignal): Promise<(string | null)[]> {
  const state = await ctx.versioning();
  const targets: DeleteTarget[] = [];
  const owner: number[] = [];
  const listFailed = new Map<number, string>();
  if (state !== 'Unversioned' && ctx.mode === 'erase-all') {
    const lists = await mapLimit(objectKeys, ctx.concurrency, (k) =>
      listKeyVersions(ctx.sdk, ctx.client, ctx.sender, ctx.bucket, k, signal).catch((e: unknown) => requestFailure(ctx, 'ListObjectVersions', e)),
    );
    lists.forEach((versions, i) => {
      if (!Array.isArray(versions)) listFailed.set(i, versions.message);
      else for (const v of versions) (targets.push({ objectKey: objectKeys[i]!, versionId: v.versionId }), owner.push(i));
    });
  } else {
    objectKeys.forEach((objectKey, i) => (targets.push({ objectKey }), owner.push(i)));
  }
  const failures = targets.length === 0 ? [] : await deleteTargets(ctx, targets, signal);
  const out = objectKeys.map((_, i) => listFailed.get(i) ?? null);
  failures.forEach((f, t) => {
    if (f && out[owner[t]!] === null) out[owner[t]!] = `${f.code}: ${f.message}`;
  });
  return out;
}

export async function trashObjects(ctx: S3TrashContext, items: readonly TrashRequest[], signal?: AbortSignal): Promise<KeyOutcome[]> {
  let state: VersioningState;
  try {
    state = await ctx.versioning();
  } catch (error) {
    const f = requestFailure(ctx, 'GetBucketVersioning', error);
    return items.map(({ key }) => ({ key, outcome: 'failed', code: f.code, message: `${f.message}; nothing was moved`, retryable: f.retryable }));
  }
  const earlier = new EarlierCopies(ctx);
  const moved: { i: number; objectKey: string; trash: string; undo: (() => Promise<unknown>) | null }[] = [];
  const out = await mapLimit(items, ctx.concurrency, async ({ key, trashKey }, i): Promise<KeyOutcome> => {
    const problem = isReservedKey(key) ? reservedKeyProblem() : null;
    const mapped = toObjectKey(ctx.prefix, key);
    const parsed = parseTrashKey(trashKey);
    if (problem || 'problem' in mapped || 'code' in parsed) {
      const p = problem ?? ('problem' in mapped ? mapped.problem : (parsed as { code: string; message: string }));
      return { key, outcome: 'refused', code: p.code, message: p.message, retryable: false };
    }
    try {
      // Suspended (checkUndoWindow refuses it at run start; the state may have changed since): copy.
      if (state === 'Enabled' && ctx.mode === 'keep' && parsed.name === key) {
        const h = await head(ctx, mapped.objectKey);
        if (h === null) return await earlier.version(key, mapped.objectKey, trashKey, parsed.name);
        if (isRealVersion(h.versionId)) {
          moved.push({ i, objectKey: mapped.objectKey, trash: `${trashKey}${VERSION_MARK}${h.versionId}`, undo: null });
          return { key, outcome: 'erased' };
        }
        // A null version: copied below, so the trash does not depend on nobody uploading at the key.
      }
      const to = toObjectKey(ctx.prefix, trashKey);
      if ('problem' in to) return { key, outcome: 'refused', code: to.problem.code, message: to.problem.message, retryable: false };
      try {
        await copy(ctx, { objectKey: mapped.objectKey }, to.objectKey);
      } catch (error) {
        if (isMissing(error)) return await earlier.copy(key, parsed.name);
        throw error;
      }
      moved.push({ i, objectKey: mapped.objectKey, trash: trashKey, undo: () => eraseObjects(ctx, [to.objectKey]) });
      return { key, outcome: 'erased' };
    } catch (error) {
      const f = requestFailure(ctx, 'move to trash', error);
      return { key, outcome: 'failed', code: f.code, message: f.message, retryable: f.retryable };
    }
  });
  // The originals go in one batch of DeleteObjects requests; a failed delete takes its trash copy back out.
  const failures =
    moved.length === 0
      ? []
      : await eraseObjects(
          ctx,
          moved.map((m) => m.objectKey),
          signal,
        );
  await Promise.all(
    moved.map(async (m, n) => {
      const key = items[m.i]!.key;
      if (failures[n] === null) out[m.i] = { key, outcome: 'erased', trash: m.trash };
      else {
        await m.undo?.().catch(() => {});
        out[m.i] = { key, outcome: 'failed', code: ErrorCodes.STORAGE, message: `delete after copying to the trash: ${failures[n]}`, retryable: true };
      }
    }),
  );
  return out;
}

/** A copy (or kept version) an interrupted attempt made: the rerun finds the key absent and records where it is. */
class EarlierCopies {
  #runs: Promise<string[]> | undefined;
  constructor(private readonly ctx: S3TrashContext) {}

  async copy(key: string, name: string): Promise<KeyOutcome> {
    for (const run of await this.#listRuns()) {
      const trashKey = `${TRASH_DIR}/${run}/${name}`;
      const at = toObjectKey(this.ctx.prefix, trashKey);
      if ('objectKey' in at && (await head(this.ctx, at.objectKey)) !== null) return { key, outcome: 'absent', trash: trashKey };
    }
    return { key, outcome: 'absent' };
  }

  async version(key: string, objectKey: string, trashKey: string, name: string): Promise<KeyOutcome> {
    const versions = await listKeyVersions(this.ctx.sdk, this.ctx.client, this.ctx.sender, this.ctx.bucket, objectKey);
    // Listed newest first: the newest data version under the delete marker is the one to keep.
    const kept = versions.find((v) => !v.deleteMarker);
    if (kept && isRealVersion(kept.versionId)) return { key, outcome: 'absent', trash: `${trashKey}${VERSION_MARK}${kept.versionId}` };
    // A null version is never a trash location (it was copied): look for that copy.
    return this.copy(key, name);
  }

  #listRuns(): Promise<string[]> {
    this.#runs ??= (async () => {
      const base = `${this.ctx.prefix}${TRASH_DIR}/`;
      const runs: string[] = [];
      let token: string | undefined;
      do {
        const page = await this.ctx.sender.read(() =>
          this.ctx.client.send(
            new this.ctx.sdk.s3.ListObjectsV2Command({ Bucket: this.ctx.bucket, Prefix: base, Delimiter: '/', ...(token ? { ContinuationToken: token } : {}) }),
          ),
        );
        for (const p of page.CommonPrefixes ?? []) if (p.Prefix) runs.push(p.Prefix.slice(base.length, -1));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return runs.reverse();
    })();
    return this.#runs;
  }
}

export async function restoreObject(ctx: S3TrashContext, trash: string, key: string): Promise<RestoreOutcome> {
  const from = locate(ctx, trash);
  const to = toObjectKey(ctx.prefix, key);
  if ('problem' in from) return { outcome: 'failed', code: ErrorCodes.KEY_INVALID, message: from.problem };
  if ('problem' in to) return { outcome: 'failed', code: to.problem.code, message: to.problem.message };
  try {
    const source = await head(ctx, from.objectKey, from.versionId);
    if (source === null) return { outcome: 'missing' };
    const there = await head(ctx, to.objectKey);
    // Same content already at the key: a restore that stopped after its copy. Otherwise never overwrite.
    if (there !== null && (from.versionId !== undefined || there.etag !== source.etag)) return { outcome: 'occupied' };
    if (there === null) await copy(ctx, from, to.objectKey);
    if (from.versionId === undefined) {
      const [f] = await eraseObjects(ctx, [from.objectKey]);
      if (f) return { outcome: 'failed', code: ErrorCodes.STORAGE, message: `restored, but the trash copy was not deleted: ${f}` };
    }
    return { outcome: 'restored' };
  } catch (error) {
    const f = requestFailure(ctx, 'restore from trash', error);
    return { outcome: 'failed', code: f.code, message: f.message };
  }
}

/**
 * Refuses an undo window the bucket cannot honour, before a run deletes anything: in `keep` mode
 * the trash is the prior version, and on a Suspended bucket a delete replaces (or removes) the
 * file's `null` version, so it could not be restored, and whatever is uploaded at the key next
 * takes that version id. A bucket whose state cannot be read fails closed too.
 */
export async function checkUndoWindow(ctx: S3TrashContext): Promise<void> {
  let state: VersioningState;
  try {
    state = await ctx.versioning();
  } catch (error) {
    const f = requestFailure(ctx, 'GetBucketVersioning', error);
    throw new LetheError(
      ErrorCodes.STORAGE,
      `undo window: ${f.message}; the run did not start: the bucket's versioning state decides where trashed files are kept`,
      { cause: error },
    );
  }
  if (state === 'Suspended' && ctx.mode === 'keep') {
    throw new LetheError(
      ErrorCodes.UNDO_WINDOW,
      `undo window: bucket ${JSON.stringify(ctx.bucket)} (${ctx.where()}) has versioning Suspended, and versions=keep keeps a trashed file only as its prior version; ` +
        'on a Suspended bucket the delete replaces the "null" version, so the file could not be restored and a later upload at the key would take its place. ' +
        'Enable versioning on the bucket (put-bucket-versioning Status=Enabled), or use the copy shape (versions=erase-all copies each file into .lethe/trash/ first), or turn the undo window off. Nothing was deleted',
    );
  }
}
