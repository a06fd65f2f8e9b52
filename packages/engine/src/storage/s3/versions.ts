import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Sdk } from './sdk.js';
import type { S3Sender } from './sender.js';

/**
 * Versioned buckets (docs/storage-s3.md#versioned-buckets, TOOLCHAIN "versioned buckets"). A delete without a VersionId on a
 * versioned bucket (every Object Lock bucket is one) only adds a delete marker: the data stays,
 * even under a legal hold. So the bucket's state is read once per adapter, and in `erase-all`
 * mode every version of a key is deleted by VersionId; that is also where a legal hold or a
 * retention answers `AccessDenied`, per key. `Suspended` buckets keep their old versions (and a
 * `null` version), so they are treated like `Enabled`.
 */
export type VersioningState = 'Enabled' | 'Suspended' | 'Unversioned';

/** One object version or delete marker of an exact key. */
export interface KeyVersion {
  readonly versionId: string;
  readonly deleteMarker: boolean;
  /** As the store reports it (often to the second); null when it reports none. */
  readonly lastModifiedMs: number | null;
}

/**
 * Reads the versioning state. Stores without a versioning API answer NotImplemented; those have
 * no versions, so they count as unversioned. Any other failure (AccessDenied, NoSuchBucket, a
 * network error) is thrown: the caller fails closed and deletes nothing.
 */
export async function readVersioning(sdk: S3Sdk, client: S3Client, sender: S3Sender, bucket: string): Promise<VersioningState> {
  try {
    const out = await sender.read(() => client.send(new sdk.s3.GetBucketVersioningCommand({ Bucket: bucket })));
    if (out.Status === 'Enabled') return 'Enabled';
    if (out.Status === 'Suspended') return 'Suspended';
    return 'Unversioned';
  } catch (error) {
    const info = (error as { info?: { code?: string; status?: number } }).info;
    if (info?.code === 'NotImplemented' || info?.status === 501) return 'Unversioned';
    throw error;
  }
}

/**
 * Every version and delete marker of exactly `objectKey`. ListObjectVersions takes a prefix, so
 * `a/b` also lists `a/b2` and `a/b/c`; the exact key sorts first, so paging stops at the first
 * other key. One request per key in the usual case (a key with fewer than 1000 versions).
 */
export async function listKeyVersions(
  sdk: S3Sdk,
  client: S3Client,
  sender: S3Sender,
  bucket: string,
  objectKey: string,
  signal?: AbortSignal,
): Promise<KeyVersion[]> {
  const found: KeyVersion[] = [];
  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  for (;;) {
    const page = await sender.read(
      () =>
        client.send(
          new sdk.s3.ListObjectVersionsCommand({
            Bucket: bucket,
            Prefix: objectKey,
            ...(keyMarker === undefined ? {} : { KeyMarker: keyMarker }),
            ...(versionMarker === undefined ? {} : { VersionIdMarker: versionMarker }),
          }),
          signal ? { abortSignal: signal } : {},
        ),
      signal,
    );
    let otherKey = false;
    for (const v of page.Versions ?? []) {
      if (v.Key === objectKey && v.VersionId !== undefined)
        found.push({ versionId: v.VersionId, deleteMarker: false, lastModifiedMs: v.LastModified?.getTime() ?? null });
      else if (v.Key !== objectKey) otherKey = true;
    }
    for (const m of page.DeleteMarkers ?? []) {
      if (m.Key === objectKey && m.VersionId !== undefined)
        found.push({ versionId: m.VersionId, deleteMarker: true, lastModifiedMs: m.LastModified?.getTime() ?? null });
      else if (m.Key !== objectKey) otherKey = true;
    }
    if (otherKey || !page.IsTruncated || (page.NextKeyMarker !== undefined && page.NextKeyMarker !== objectKey)) return found;
    keyMarker = page.NextKeyMarker;
    versionMarker = page.NextVersionIdMarker;
    if (keyMarker === undefined) return found;
  }
}
