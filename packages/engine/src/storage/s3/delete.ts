import type { S3Client } from '@aws-sdk/client-s3';
import { adviceFor, classifyCode } from './errors.js';
import { fitsDeleteObjectsXml } from './keys.js';
import type { S3Sdk } from './sdk.js';
import { S3RequestError, type S3Sender } from './sender.js';
import type { Admission } from './throttle.js';

/** S3's limit on keys per DeleteObjects; some servers accept more, real S3 refuses (docs/storage-s3.md#limits). */
export const MAX_KEYS_PER_REQUEST = 1000;

/** One object (or one version of it, by VersionId) to delete. */
export interface DeleteTarget {
  readonly objectKey: string;
  readonly versionId?: string;
}

export interface TargetFailure {
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
}

export interface DeleteContext {
  readonly sdk: S3Sdk;
  readonly client: S3Client;
  readonly sender: S3Sender;
  readonly bucket: string;
  /** `s3://bucket/prefix (endpoint ...)`, for messages. */
  readonly where: () => string;
}

const id = (key: string, versionId: string | undefined): string => `${key}\u0000${versionId ?? ''}`;

/**
 * Deletes targets in DeleteObjects requests of at most 1000 (Quiet mode: the response lists
 * only errors), several in flight (the sender bounds them). Returns one entry per target, in
 * order: null when the store reported no error for it, else why it failed. Per-key errors that
 * are worth another try (SlowDown, InternalError) are resent after a backoff, within the same
 * attempt budget as whole requests.
 */
export async function deleteTargets(ctx: DeleteContext, targets: readonly DeleteTarget[], signal?: AbortSignal): Promise<(TargetFailure | null)[]> {
  const out = new Array<TargetFailure | null>(targets.length).fill(null);
  const batchable: number[] = [];
  const single: number[] = [];
  targets.forEach((t, i) => (fitsDeleteObjectsXml(t.objectKey) ? batchable : single).push(i));
  const chunks: number[][] = [];
  for (let i = 0; i < batchable.length; i += MAX_KEYS_PER_REQUEST) chunks.push(batchable.slice(i, i + MAX_KEYS_PER_REQUEST));
  await Promise.all([
    ...chunks.map((chunk) => deleteChunk(ctx, targets, chunk, out, signal)),
    ...single.map((i) => deleteOne(ctx, targets[i]!, signal).then((f) => void (out[i] = f))),
  ]);
  return out;
}

async function deleteChunk(
  ctx: DeleteContext,
  targets: readonly DeleteTarget[],
  chunk: readonly number[],
  out: (TargetFailure | null)[],
  signal?: AbortSignal,
): Promise<void> {
  let pending = chunk;
  for (let attempt = 0; pending.length > 0; attempt += 1) {
    const objects = pending.map((i) => {
      const t = targets[i]!;
      return t.versionId === undefined ? { Key: t.objectKey } : { Key: t.objectKey, VersionId: t.versionId };
    });
    let errors: Map<string, { code: string; message: string }>;
    let admission: Admission;
    try {
      const { value: response, admission: sentAs } = await ctx.sender.delete(
        objects.length,
        () =>
          ctx.client.send(
            new ctx.sdk.s3.DeleteObjectsCommand({ Bucket: ctx.bucket, Delete: { Objects: objects, Quiet: true } }),
            signal ? { abortSignal: signal } : {},
          ),
        signal,
      );
      admission = sentAs;
      errors = new Map();
      for (const e of response.Errors ?? []) {
        if (e.Key !== undefined) errors.set(id(e.Key, e.VersionId), { code: e.Code ?? 'S3Error', message: e.Message ?? 'no message' });
      }
    } catch (error) {
      const failure = requestFailure(ctx, 'DeleteObjects', error);
      for (const i of pending) out[i] = failure;
      return;
    }
    const retry: number[] = [];
    let throttled = false;
    for (const i of pending) {
      const t = targets[i]!;
      // Some stores omit VersionId in per-key errors: then the error counts for every version of the key.
      const e = errors.get(id(t.objectKey, t.versionId)) ?? errors.get(id(t.objectKey, undefined));
      if (!e) {
        out[i] = null;
        continue;
      }
      const c = classifyCode(e.code, undefined);
      out[i] = { code: e.code, message: `${e.code}: ${e.message}${adviceFor(e.code, 'key')}`, retryable: c.retryable };
      if (c.retryable) retry.push(i);
      throttled ||= c.throttled;
    }
    if (retry.length === 0 || attempt + 1 >= ctx.sender.maxAttempts || signal?.aborted) return;
    await ctx.sender.pause(attempt, throttled, admission, signal);
    pending = retry;
  }
}

async function deleteOne(ctx: DeleteContext, t: DeleteTarget, signal?: AbortSignal): Promise<TargetFailure | null> {
  try {
    const input = t.versionId === undefined ? { Bucket: ctx.bucket, Key: t.objectKey } : { Bucket: ctx.bucket, Key: t.objectKey, VersionId: t.versionId };
    await ctx.sender.delete(1, () => ctx.client.send(new ctx.sdk.s3.DeleteObjectCommand(input), signal ? { abortSignal: signal } : {}), signal);
    return null;
  } catch (error) {
    return requestFailure(ctx, 'DeleteObject', error);
  }
}

/** A whole request failed: every key in it fails with a message naming bucket and endpoint. */
export function requestFailure(ctx: Pick<DeleteContext, 'where'>, operation: string, error: unknown): TargetFailure {
  if (error instanceof S3RequestError) {
    const { info, attempts } = error;
    const tries = attempts === 1 ? '1 attempt' : `${attempts} attempts`;
    return {
      code: info.code,
      message: `${ctx.where()}: ${operation} failed after ${tries}: ${info.code}: ${info.message}${adviceFor(info.code)}`,
      retryable: info.retryable,
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'LETHE_E_STORAGE', message: `${ctx.where()}: ${operation} failed: ${message}`, retryable: true };
}
