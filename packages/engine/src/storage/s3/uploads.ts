import { requestFailure, type DeleteContext, type TargetFailure } from './delete.js';

/**
 * Incomplete multipart uploads under erased keys (docs/rights.md#derived-data): their parts hold
 * the data too, and completing one later would bring the object back. After a batch's deletes,
 * the uploads in progress under the batch's keys are listed (one ListMultipartUploads request per
 * batch in the usual case: the listing starts at the keys' common prefix) and aborted. Returns the
 * keys whose uploads could not be listed or aborted, with why; a store that has no multipart
 * listing (NotImplemented) has none to abort.
 */
export async function abortUploads(ctx: DeleteContext, objectKeys: readonly string[], signal?: AbortSignal): Promise<Map<string, TargetFailure>> {
  if (objectKeys.length === 0) return new Map();
  const wanted = new Set(objectKeys);
  return abortMatching(ctx, commonPrefix(objectKeys), (k) => wanted.has(k), objectKeys, signal);
}

/** Every incomplete upload under an object prefix (a derived prefix such as `pages/7/`); a failure is keyed by the prefix. */
export async function abortUploadsUnder(ctx: DeleteContext, objectPrefix: string, signal?: AbortSignal): Promise<TargetFailure | null> {
  const failed = await abortMatching(ctx, objectPrefix, (k) => k.startsWith(objectPrefix), [objectPrefix], signal);
  return failed.size === 0 ? null : [...failed.values()][0]!;
}

async function abortMatching(
  ctx: DeleteContext,
  prefix: string,
  match: (objectKey: string) => boolean,
  objectKeys: readonly string[],
  signal?: AbortSignal,
): Promise<Map<string, TargetFailure>> {
  const failed = new Map<string, TargetFailure>();
  const found: { key: string; uploadId: string }[] = [];
  let keyMarker: string | undefined;
  let uploadMarker: string | undefined;
  try {
    for (;;) {
      const page = await ctx.sender.read(
        () =>
          ctx.client.send(
            new ctx.sdk.s3.ListMultipartUploadsCommand({
              Bucket: ctx.bucket,
              Prefix: prefix,
              ...(keyMarker === undefined ? {} : { KeyMarker: keyMarker }),
              ...(uploadMarker === undefined ? {} : { UploadIdMarker: uploadMarker }),
            }),
            signal ? { abortSignal: signal } : {},
          ),
        signal,
      );
      for (const u of page.Uploads ?? []) if (u.Key !== undefined && u.UploadId !== undefined && match(u.Key)) found.push({ key: u.Key, uploadId: u.UploadId });
      if (!page.IsTruncated) break;
      keyMarker = page.NextKeyMarker;
      uploadMarker = page.NextUploadIdMarker;
    }
  } catch (error) {
    const info = (error as { info?: { code?: string; status?: number } }).info;
    if (info?.code === 'NotImplemented' || info?.status === 501) return failed;
    const f = requestFailure(ctx, 'ListMultipartUploads', error);
    for (const k of objectKeys) failed.set(k, { ...f, message: `${f.message}; incomplete uploads under the key could not be listed`, retryable: true });
    return failed;
  }
  await Promise.all(
    found.map(async (u) => {
      try {
        await ctx.sender.read(
          () =>
            ctx.client.send(
              new ctx.sdk.s3.AbortMultipartUploadCommand({ Bucket: ctx.bucket, Key: u.key, UploadId: u.uploadId }),
              signal ? { abortSignal: signal } : {},
            ),
          signal,
        );
      } catch (error) {
        const info = (error as { info?: { code?: string } }).info;
        if (info?.code === 'NoSuchUpload') return;
        const f = requestFailure(ctx, 'AbortMultipartUpload', error);
        failed.set(wantedKey(u.key, objectKeys), { ...f, message: `${f.message}; an incomplete upload under the key is left`, retryable: true });
      }
    }),
  );
  return failed;
}

/** The key a failure is reported under: the upload's own key, or the prefix it was found under. */
const wantedKey = (key: string, objectKeys: readonly string[]): string => (objectKeys.includes(key) ? key : (objectKeys.find((p) => key.startsWith(p)) ?? key));

function commonPrefix(keys: readonly string[]): string {
  let p = keys[0]!;
  for (const k of keys) {
    let i = 0;
    while (i < p.length && i < k.length && p[i] === k[i]) i++;
    p = p.slice(0, i);
    if (p === '') break;
  }
  return p;
}
