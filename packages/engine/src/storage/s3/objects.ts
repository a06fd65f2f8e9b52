import { Readable } from 'node:stream';
import { ErrorCodes, LetheError } from '../../errors.js';
import type { ObjectBody, ProbeResult, ProbeStep, WriteOutcome } from '../../ports.js';
import { requestFailure, type DeleteContext } from './delete.js';
import { toObjectKey } from './keys.js';
import { S3RequestError } from './sender.js';
import { isReservedKey, reservedKeyProblem } from '../trash-keys.js';

/**
 * Whole-object operations on the S3 adapter (runbook FM-002, EMERGENCY-002): the bucket check every run makes first
 * (HeadBucket), the `lethe doctor` probe under `<prefix>.lethe/doctor/`, and reading / writing one
 * object for restores from a backup (streamed, never the whole file in memory).
 */
export interface S3ObjectContext extends DeleteContext {
  readonly prefix: string;
}

export const S3_DOCTOR_DIR = '.lethe/doctor';

const isMissing = (error: unknown): boolean =>
  error instanceof S3RequestError && (error.info.status === 404 || ['NoSuchKey', 'NotFound'].includes(error.info.code));

/** One HeadBucket: the bucket exists at the endpoint and these credentials may use it. */
export async function pingBucket(ctx: S3ObjectContext): Promise<void> {
  try {
    await ctx.sender.read(() => ctx.client.send(new ctx.sdk.s3.HeadBucketCommand({ Bucket: ctx.bucket })));
  } catch (error) {
    const missing = error instanceof S3RequestError && (error.info.status === 404 || error.info.code === 'NotFound' || error.info.code === 'NoSuchBucket');
    throw new LetheError(
      ErrorCodes.STORAGE,
      missing
        ? `${ctx.where()}: the bucket does not exist at this endpoint (HeadBucket answered 404)`
        : `storage not reachable: ${requestFailure(ctx, 'HeadBucket', error).message}`,
      { cause: error },
    );
  }
}

function objectKeyOf(ctx: S3ObjectContext, key: string): string {
  const mapped = toObjectKey(ctx.prefix, key);
  if ('problem' in mapped) throw new LetheError(mapped.problem.code as typeof ErrorCodes.KEY_INVALID, mapped.problem.message);
  return mapped.objectKey;
}

async function step(name: ProbeStep['step'], fn: () => Promise<void>, ctx: S3ObjectContext, op: string): Promise<ProbeStep> {
  const started = performance.now();
  try {
    await fn();
    return { step: name, ok: true, ms: Math.round(performance.now() - started) };
  } catch (error) {
    const f = requestFailure(ctx, op, error);
    return { step: name, ok: false, ms: Math.round(performance.now() - started), code: f.code, message: f.message };
  }
}

/**
 * PutObject, GetObject (compared), then DeleteObject by the VersionId the put returned, so a
 * versioned bucket is left with no version and no delete marker of the probe.
 */
export async function probeBucket(ctx: S3ObjectContext, name: string): Promise<ProbeResult> {
  const key = `${S3_DOCTOR_DIR}/${name}`;
  const objectKey = objectKeyOf(ctx, key);
  const content = `lethe doctor probe ${name} ${new Date().toISOString()}\n`;
  let versionId: string | undefined;
  const steps: ProbeStep[] = [];
  steps.push(
    await step(
      'write',
      async () => {
        const out = await ctx.sender.read(() => ctx.client.send(new ctx.sdk.s3.PutObjectCommand({ Bucket: ctx.bucket, Key: objectKey, Body: content })));
        versionId = out.VersionId;
      },
      ctx,
      'PutObject',
    ),
  );
  if (steps[0]!.ok) {
    steps.push(
      await step(
        'read',
        async () => {
          const out = await ctx.sender.read(() => ctx.client.send(new ctx.sdk.s3.GetObjectCommand({ Bucket: ctx.bucket, Key: objectKey })));
          const text = out.Body ? await out.Body.transformToString() : '';
          if (text !== content) throw new Error('read back different bytes than written');
        },
        ctx,
        'GetObject',
      ),
    );
    steps.push(
      await step(
        'delete',
        async () => {
          await ctx.sender.read(() =>
            ctx.client.send(new ctx.sdk.s3.DeleteObjectCommand({ Bucket: ctx.bucket, Key: objectKey, ...(versionId ? { VersionId: versionId } : {}) })),
          );
        },
        ctx,
        'DeleteObject',
      ),
    );
  }
  return { key, steps };
}

export async function readS3Object(ctx: S3ObjectContext, key: string): Promise<ObjectBody | null> {
  const objectKey = objectKeyOf(ctx, key);
  try {
    const out = await ctx.sender.read(() => ctx.client.send(new ctx.sdk.s3.GetObjectCommand({ Bucket: ctx.bucket, Key: objectKey })));
    if (!out.Body) return { body: Readable.from([]), size: 0 };
    return { body: out.Body as Readable, size: out.ContentLength ?? 0 };
  } catch (error) {
    if (isMissing(error)) return null;
    throw new LetheError(ErrorCodes.STORAGE, requestFailure(ctx, 'GetObject', error).message, { cause: error });
  }
}

/**
 * HeadObject, then PutObject with the stream and its length (one attempt: a stream cannot be
 * resent). An object already at the key is never overwritten; two restores racing on one key
 * are kept apart by the run lock the restore holds.
 */
export async function writeS3Object(ctx: S3ObjectContext, key: string, source: ObjectBody): Promise<WriteOutcome> {
  if (isReservedKey(key)) throw new LetheError(ErrorCodes.KEY_OUTSIDE_ROOT, reservedKeyProblem().message);
  const objectKey = objectKeyOf(ctx, key);
  try {
    await ctx.sender.read(() => ctx.client.send(new ctx.sdk.s3.HeadObjectCommand({ Bucket: ctx.bucket, Key: objectKey })));
    return { outcome: 'occupied' };
  } catch (error) {
    if (!isMissing(error)) return { outcome: 'failed', ...failureOf(ctx, 'HeadObject', error) };
  }
  try {
    await ctx.client.send(new ctx.sdk.s3.PutObjectCommand({ Bucket: ctx.bucket, Key: objectKey, Body: source.body, ContentLength: source.size }));
    return { outcome: 'written', size: source.size };
  } catch (error) {
    return { outcome: 'failed', ...failureOf(ctx, 'PutObject', error) };
  }
}

function failureOf(ctx: S3ObjectContext, op: string, error: unknown): { code: string; message: string } {
  const f = requestFailure(ctx, op, error);
  return { code: f.code, message: f.message };
}
