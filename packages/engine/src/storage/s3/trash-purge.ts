import { ErrorCodes } from '../../errors.js';
import type { KeyOutcome, TrashRecordTimes } from '../../ports.js';
import { deleteTargets, requestFailure, type DeleteTarget, type TargetFailure } from './delete.js';
import { mapLimit } from '../map-limit.js';
import { head, locate, type Located, type S3TrashContext } from './trash.js';
import { listKeyVersions, type VersioningState } from './versions.js';

/**
 * The undo window's end on S3 (docs/safety.md#undo-window-default-off): trash past its window is deleted for good, but only what
 * is still the trashed file. A `?versionId=null` location names whatever was uploaded at the key
 * last, and a trash key can be written again; a purge once deleted a newer upload that way.
 */
type Inspection =
  | { readonly kind: 'gone' }
  | { readonly kind: 'newer'; readonly lastModifiedMs: number; readonly boundMs: number }
  | { readonly kind: 'delete'; readonly targets: readonly DeleteTarget[] }
  | { readonly kind: 'failed'; readonly code: string; readonly message: string; readonly retryable: boolean };

/**
 * What is at a trash location now, and whether deleting it is deleting the trashed file. The
 * object must not be newer than its record: a kept version was written before the record's
 * batch began, a copy before its run ended. A `null` version id names whatever was uploaded at
 * the key last, so without this a purge deleted a newer upload (docs/safety.md#undo-window-default-off, on a
 * Suspended bucket). Stores report LastModified to the second, so an object written within the
 * same second as the record cannot be told apart; a delete marker is never deleted (it is not the
 * file, and removing it would bring an older version back).
 */
async function inspect(ctx: S3TrashContext, state: VersioningState, at: Located, times: TrashRecordTimes): Promise<Inspection> {
  const newer = (lastModifiedMs: number | null, boundMs: number): Inspection | null =>
    lastModifiedMs === null || lastModifiedMs > boundMs ? { kind: 'newer', lastModifiedMs: lastModifiedMs ?? Number.NaN, boundMs } : null;
  if (at.versionId !== undefined) {
    const versions = await listKeyVersions(ctx.sdk, ctx.client, ctx.sender, ctx.bucket, at.objectKey);
    const v = versions.find((x) => x.versionId === at.versionId);
    if (!v || v.deleteMarker) return { kind: 'gone' };
    return newer(v.lastModifiedMs, times.batchStartedMs) ?? { kind: 'delete', targets: [{ objectKey: at.objectKey, versionId: v.versionId }] };
  }
  if (state !== 'Unversioned' && ctx.mode === 'erase-all') {
    // Every version of the copy goes, as the adapter erases; none may be newer than the record.
    const versions = await listKeyVersions(ctx.sdk, ctx.client, ctx.sender, ctx.bucket, at.objectKey);
    const data = versions.filter((x) => !x.deleteMarker);
    if (data.length === 0) return { kind: 'gone' };
    for (const x of data) {
      const n = newer(x.lastModifiedMs, times.recordedByMs);
      if (n) return n;
    }
    return { kind: 'delete', targets: versions.map((x) => ({ objectKey: at.objectKey, versionId: x.versionId })) };
  }
  const h = await head(ctx, at.objectKey);
  if (h === null) return { kind: 'gone' };
  return newer(h.lastModifiedMs, times.recordedByMs) ?? { kind: 'delete', targets: [{ objectKey: at.objectKey }] };
}

export async function purgeObjects(ctx: S3TrashContext, trash: readonly string[], times?: readonly TrashRecordTimes[]): Promise<KeyOutcome[]> {
  const out = new Array<KeyOutcome>(trash.length);
  const todo: { i: number; at: Located; times: TrashRecordTimes }[] = [];
  trash.forEach((t, i) => {
    const l = locate(ctx, t);
    const when = times?.[i];
    if ('problem' in l) out[i] = { key: t, outcome: 'refused', code: ErrorCodes.KEY_INVALID, message: l.problem, retryable: false };
    else if (!when)
      out[i] = {
        key: t,
        outcome: 'refused',
        code: ErrorCodes.CONFIG,
        message: "purge: the trash record's time is needed to tell the trashed file from a newer object; nothing was deleted",
        retryable: false,
      };
    else todo.push({ i, at: l, times: when });
  });
  if (todo.length === 0) return out;
  let state: VersioningState;
  try {
    state = await ctx.versioning();
  } catch (error) {
    const f = requestFailure(ctx, 'GetBucketVersioning', error);
    for (const { i } of todo) out[i] = { key: trash[i]!, outcome: 'failed', code: f.code, message: `${f.message}; nothing was purged`, retryable: f.retryable };
    return out;
  }
  const looked = await mapLimit(todo, ctx.concurrency, async ({ at, times: when }): Promise<Inspection> => {
    try {
      return await inspect(ctx, state, at, when);
    } catch (error) {
      const f = requestFailure(ctx, 'inspect trash', error);
      return { kind: 'failed', ...f, message: `${f.message}; nothing was deleted` };
    }
  });
  const targets: DeleteTarget[] = [];
  const owner: number[] = [];
  looked.forEach((x, n) => {
    if (x.kind === 'delete') for (const t of x.targets) (targets.push(t), owner.push(n));
  });
  const failures = targets.length === 0 ? [] : await deleteTargets(ctx, targets);
  const failed = new Map<number, TargetFailure>();
  failures.forEach((f, t) => {
    if (f && !failed.has(owner[t]!)) failed.set(owner[t]!, f);
  });
  looked.forEach((x, n) => {
    const { i, at } = todo[n]!;
    const key = trash[i]!;
    if (x.kind === 'gone') out[i] = { key, outcome: 'absent' };
    else if (x.kind === 'failed') out[i] = { key, outcome: 'failed', code: x.code, message: x.message, retryable: x.retryable };
    else if (x.kind === 'newer') {
      const when = Number.isNaN(x.lastModifiedMs) ? 'at an unknown time' : `at ${new Date(x.lastModifiedMs).toISOString()}`;
      out[i] = {
        key,
        outcome: 'refused',
        code: ErrorCodes.TRASH_NEWER,
        retryable: false,
        message: `${ctx.where()}: the object at ${at.objectKey}${at.versionId === undefined ? '' : ` (version ${at.versionId})`} was written ${when}, after its trash record (${new Date(x.boundMs).toISOString()}): it is not the trashed file, so it was left in place`,
      };
    } else {
      const f = failed.get(n);
      out[i] = f ? { key, outcome: 'failed', code: f.code, message: f.message, retryable: f.retryable } : { key, outcome: 'erased' };
    }
  });
  return out;
}
