import { systemClock } from '../../clock.js';
import { ErrorCodes, LetheError, type ErrorCode } from '../../errors.js';
import type {
  Clock,
  KeyOutcome,
  ObjectBody,
  ObjectInfo,
  ProbeResult,
  RestoreOutcome,
  StoragePort,
  TrashRecordTimes,
  TrashRequest,
  WriteOutcome,
} from '../../ports.js';
import type { S3StorageConfig } from '../index.js';
import { buildS3Client, DEFAULT_MAX_SOCKETS, type S3ClientHandle } from './client.js';
import { deleteTargets, requestFailure, type DeleteContext, type DeleteTarget, type TargetFailure } from './delete.js';
import { fromObjectKey, listPrefix, toObjectKey } from './keys.js';
import { loadS3Sdk, type S3Sdk } from './sdk.js';
import { pingBucket, probeBucket, readS3Object, writeS3Object, type S3ObjectContext } from './objects.js';
import { S3RequestError, S3Sender } from './sender.js';
import { purgeObjects } from './trash-purge.js';
import { checkUndoWindow, restoreObject, trashObjects, type S3TrashContext } from './trash.js';
import { abortUploads, abortUploadsUnder } from './uploads.js';
import { listKeyVersions, readVersioning, type KeyVersion, type VersioningState } from './versions.js';
import { mapLimit } from '../map-limit.js';

export interface S3StorageOptions {
  /** For tests of pacing and backoff; the system clock otherwise. */
  readonly clock?: Clock;
}

/** One distinct object key of a deleteMany call and the input positions that named it. */
interface WorkItem {
  readonly objectKey: string;
  readonly positions: number[];
}

type ItemResult = { readonly outcome: 'erased' | 'absent' } | { readonly outcome: 'failed'; readonly failure: TargetFailure };

/**
 * S3-compatible storage (AWS S3, Cloudflare R2, MinIO) behind the storage port; see
 * docs/storage-s3.md. What "absent" means here, without a HEAD per key on the hot path:
 *
 * - versioned bucket, `erase-all` (default): each key's versions are listed anyway (to delete
 *   them by VersionId), so absence is known: no version at all, or only delete markers, is
 *   `absent`; any data version deleted is `erased`.
 * - unversioned bucket, or `keep` mode: DeleteObjects reports a missing key as deleted (and in
 *   `keep` mode adds a delete marker over nothing), so absence is not observable and the key is
 *   reported `erased`. Both count as deleted; the ledger records `erased` for it.
 *
 * Duplicate keys in one call are deleted once: the first position gets the outcome, later ones
 * `absent` (or the same failure), as the pipeline does for rows sharing a key.
 */
export class S3Storage implements StoragePort {
  readonly describe: string;
  readonly #config: S3StorageConfig;
  readonly #sdk: S3Sdk;
  readonly #handle: S3ClientHandle;
  readonly #sender: S3Sender;
  readonly #ctx: DeleteContext;
  #versioning: Promise<VersioningState> | undefined;
  #bucketSeen = false;

  /** Use `openS3Storage`, which loads the SDK first. */
  constructor(config: S3StorageConfig, sdk: S3Sdk, options: S3StorageOptions = {}) {
    this.#config = config;
    this.#sdk = sdk;
    this.describe = `s3://${config.bucket}/${config.prefix}${config.endpoint ? ` (endpoint ${config.endpoint})` : ''}`;
    this.#handle = buildS3Client(config, sdk);
    this.#sender = new S3Sender({
      clock: options.clock ?? systemClock,
      concurrency: config.concurrency ?? 4,
      maxAttempts: config.maxAttempts ?? 5,
      retryBaseMs: config.retryBaseMs ?? 100,
    });
    this.#ctx = { sdk, client: this.#handle.client, sender: this.#sender, bucket: config.bucket, where: () => this.#where() };
  }

  #where(): string {
    const endpoint =
      this.#config.endpoint ?? this.#handle.endpointSeen() ?? `the SDK's default endpoint${this.#config.region ? ` for ${this.#config.region}` : ''}`;
    return `s3://${this.#config.bucket}/${this.#config.prefix} (endpoint ${endpoint})`;
  }

  get #mode(): 'erase-all' | 'keep' {
    return this.#config.versions ?? 'erase-all';
  }

  /** Read once per adapter; a failure is not cached, so the next batch asks again. */
  #versioningState(): Promise<VersioningState> {
    this.#versioning ??= readVersioning(this.#sdk, this.#handle.client, this.#sender, this.#config.bucket).catch((error: unknown) => {
      this.#versioning = undefined;
      throw error;
    });
    return this.#versioning;
  }

  async deleteMany(keys: readonly string[], signal?: AbortSignal): Promise<KeyOutcome[]> {
    const out = new Array<KeyOutcome>(keys.length);
    const items: WorkItem[] = [];
    const byObjectKey = new Map<string, WorkItem>();
    keys.forEach((key, i) => {
      const mapped = toObjectKey(this.#config.prefix, key);
      if ('problem' in mapped) {
        out[i] = { key, outcome: 'refused', code: mapped.problem.code, message: mapped.problem.message, retryable: false };
        return;
      }
      const seen = byObjectKey.get(mapped.objectKey);
      if (seen) seen.positions.push(i);
      else {
        const item = { objectKey: mapped.objectKey, positions: [i] };
        byObjectKey.set(mapped.objectKey, item);
        items.push(item);
      }
    });
    if (items.length === 0) return out;
    const results = await this.#deleteItems(items, signal);
    // Incomplete multipart uploads under the erased keys are aborted too (uploads.ts); a key whose
    // upload is left is failed (retryable): its row stays and the next run tries again.
    const gone = items.filter((_, n) => results[n]!.outcome !== 'failed').map((item) => item.objectKey);
    const left = await abortUploads(this.#ctx, gone, signal);
    items.forEach((item, n) => {
      const f = left.get(item.objectKey);
      const r: ItemResult = f ? { outcome: 'failed', failure: f } : results[n]!;
      item.positions.forEach((pos, k) => {
        const key = keys[pos]!;
        if (r.outcome === 'failed') out[pos] = { key, outcome: 'failed', code: r.failure.code, message: r.failure.message, retryable: r.failure.retryable };
        else out[pos] = { key, outcome: k === 0 ? r.outcome : 'absent' };
      });
    });
    return out;
  }

  async #deleteItems(items: readonly WorkItem[], signal?: AbortSignal): Promise<ItemResult[]> {
    if (signal?.aborted)
      return items.map(() => ({ outcome: 'failed', failure: { code: ErrorCodes.ABORTED, message: 'run stopped before this key', retryable: true } }));
    let state: VersioningState;
    try {
      state = await this.#versioningState();
    } catch (error) {
      // Fail closed: without the state, a plain delete might only hide data behind a marker.
      const f = requestFailure(this.#ctx, 'GetBucketVersioning', error);
      const failure = { ...f, message: `${f.message}; nothing was deleted: the bucket's versioning state must be known first` };
      return items.map(() => ({ outcome: 'failed', failure }));
    }
    if (state !== 'Unversioned' && this.#mode === 'erase-all') return this.#eraseAllVersions(items, signal);
    const failures = await deleteTargets(
      this.#ctx,
      items.map((item) => ({ objectKey: item.objectKey })),
      signal,
    );
    return failures.map((failure) => (failure ? { outcome: 'failed', failure } : { outcome: 'erased' }));
  }

  /** Lists each key's versions (bounded concurrency), then deletes them all by VersionId. */
  async #eraseAllVersions(items: readonly WorkItem[], signal?: AbortSignal): Promise<ItemResult[]> {
    const listed = await mapLimit(items, this.#listConcurrency(), async (item): Promise<KeyVersion[] | TargetFailure> => {
      try {
        return await listKeyVersions(this.#sdk, this.#handle.client, this.#sender, this.#config.bucket, item.objectKey, signal);
      } catch (error) {
        return requestFailure(this.#ctx, 'ListObjectVersions', error);
      }
    });
    const targets: DeleteTarget[] = [];
    const owner: number[] = [];
    listed.forEach((versions, n) => {
      if (!Array.isArray(versions)) return;
      for (const v of versions) {
        targets.push({ objectKey: items[n]!.objectKey, versionId: v.versionId });
        owner.push(n);
      }
    });
    const failures = targets.length === 0 ? [] : await deleteTargets(this.#ctx, targets, signal);
    const firstFailure = new Map<number, TargetFailure>();
    failures.forEach((f, t) => {
      if (f && !firstFailure.has(owner[t]!)) firstFailure.set(owner[t]!, f);
    });
    return listed.map((versions, n): ItemResult => {
      if (!Array.isArray(versions)) return { outcome: 'failed', failure: versions };
      const f = firstFailure.get(n);
      // Other versions of the key may be gone; at least one is kept, so the row is kept too.
      if (f) return { outcome: 'failed', failure: { ...f, message: `${f.message} (at least one of the key's ${versions.length} versions is kept)` } };
      return { outcome: versions.some((v) => !v.deleteMarker) ? 'erased' : 'absent' };
    });
  }

  #listConcurrency(): number {
    return Math.max(1, Math.min(this.#config.maxSockets ?? DEFAULT_MAX_SOCKETS, 32));
  }

  /** Undo window (docs/safety.md#undo-window-default-off): a copy into `.lethe/trash/`, or the kept version in `keep` mode; see s3/trash.ts. */
  trashMany(items: readonly TrashRequest[], signal?: AbortSignal): Promise<KeyOutcome[]> {
    return trashObjects(this.#trashContext(), items, signal);
  }

  restoreFromTrash(trash: string, key: string): Promise<RestoreOutcome> {
    return restoreObject(this.#trashContext(), trash, key);
  }

  purgeTrash(trash: readonly string[], times?: readonly TrashRecordTimes[]): Promise<KeyOutcome[]> {
    return purgeObjects(this.#trashContext(), trash, times);
  }

  checkUndoWindow(): Promise<void> {
    return checkUndoWindow(this.#trashContext());
  }

  #trashContext(): S3TrashContext {
    return { ...this.#ctx, prefix: this.#config.prefix, mode: this.#mode, versioning: () => this.#versioningState(), concurrency: this.#listConcurrency() };
  }

  // Whole-object operations (run preflight, `lethe doctor`, restore from a backup): see objects.ts.
  ping = (): Promise<void> => pingBucket(this.#objects());
  probe = (name: string): Promise<ProbeResult> => probeBucket(this.#objects(), name);
  readObject = (key: string): Promise<ObjectBody | null> => readS3Object(this.#objects(), key);
  writeObject = (key: string, source: ObjectBody): Promise<WriteOutcome> => writeS3Object(this.#objects(), key, source);
  #objects = (): S3ObjectContext => ({ ...this.#ctx, prefix: this.#config.prefix });

  async stat(key: string): Promise<ObjectInfo | null> {
    const mapped = toObjectKey(this.#config.prefix, key);
    if ('problem' in mapped) throw new LetheError(mapped.problem.code as ErrorCode, mapped.problem.message);
    try {
      const head = await this.#sender.read(() =>
        this.#handle.client.send(new this.#sdk.s3.HeadObjectCommand({ Bucket: this.#config.bucket, Key: mapped.objectKey })),
      );
      this.#bucketSeen = true;
      return { key, size: head.ContentLength ?? 0, modifiedMs: head.LastModified?.getTime() ?? 0 };
    } catch (error) {
      if (!(error instanceof S3RequestError && (error.info.status === 404 || error.info.code === 'NotFound' || error.info.code === 'NoSuchKey'))) {
        throw new LetheError(ErrorCodes.STORAGE, requestFailure(this.#ctx, 'HeadObject', error).message, { cause: error });
      }
    }
    await this.#ensureBucket();
    return null;
  }

  /**
   * A HEAD answers a bare 404 both for a missing key and for a missing bucket; verification
   * must not read a wrong bucket name as "every file is gone". So the first 404 is checked
   * against the bucket itself (once per adapter, when it exists).
   */
  async #ensureBucket(): Promise<void> {
    if (this.#bucketSeen) return;
    try {
      await this.#sender.read(() => this.#handle.client.send(new this.#sdk.s3.HeadBucketCommand({ Bucket: this.#config.bucket })));
      this.#bucketSeen = true;
    } catch (error) {
      const failure = requestFailure(this.#ctx, 'HeadBucket', error);
      const missing = error instanceof S3RequestError && (error.info.status === 404 || error.info.code === 'NotFound');
      throw new LetheError(
        ErrorCodes.STORAGE,
        missing ? `${this.#where()}: the bucket does not exist at this endpoint (HeadBucket answered 404)` : failure.message,
        { cause: error },
      );
    }
  }

  /** Derived prefixes (docs/rights.md#derived-data): every incomplete upload under the prefix is aborted. */
  async abortUploadsUnder(prefix: string, signal?: AbortSignal): Promise<{ readonly code: string; readonly message: string } | null> {
    const at = listPrefix(this.#config.prefix, prefix);
    if (at === null) return { code: ErrorCodes.KEY_OUTSIDE_ROOT, message: `prefix: must be a safe relative path, got ${JSON.stringify(prefix)}` };
    const f = await abortUploadsUnder(this.#ctx, at, signal);
    return f ? { code: f.code, message: f.message } : null;
  }

  async *list(prefix = ''): AsyncIterable<ObjectInfo> {
    const listAt = listPrefix(this.#config.prefix, prefix);
    if (listAt === null) throw new LetheError(ErrorCodes.KEY_OUTSIDE_ROOT, `list prefix: must be a safe relative path, got ${JSON.stringify(prefix)}`);
    let token: string | undefined;
    do {
      const input = { Bucket: this.#config.bucket, Prefix: listAt, ...(token === undefined ? {} : { ContinuationToken: token }) };
      let page;
      try {
        page = await this.#sender.read(() => this.#handle.client.send(new this.#sdk.s3.ListObjectsV2Command(input)));
      } catch (error) {
        throw new LetheError(ErrorCodes.STORAGE, requestFailure(this.#ctx, 'ListObjectsV2', error).message, { cause: error });
      }
      for (const o of page.Contents ?? []) {
        const key = o.Key === undefined ? null : fromObjectKey(this.#config.prefix, o.Key);
        if (key !== null) yield { key, size: o.Size ?? 0, modifiedMs: o.LastModified?.getTime() ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  /** For the run summary: the bucket's versioning state, the mode, and what the adapter saw. */
  async describeState(): Promise<Record<string, unknown>> {
    const versioning = await this.#versioningState().catch((): 'unreadable' => 'unreadable');
    const mode = this.#mode;
    const versioned = versioning === 'Enabled' || versioning === 'Suspended';
    return {
      storage: 's3',
      bucket: this.#config.bucket,
      prefix: this.#config.prefix,
      endpoint: this.#config.endpoint ?? this.#handle.endpointSeen(),
      versioning,
      versions_mode: mode,
      deletes:
        versioning === 'unreadable'
          ? 'refused (versioning state unreadable)'
          : !versioned
            ? 'plain delete'
            : mode === 'erase-all'
              ? 'every version by VersionId'
              : 'delete marker (noncurrent versions kept)',
      absent_observable: versioned && mode === 'erase-all',
      content_md5: this.#config.contentMd5 !== false,
      // This adapter's own requests only: each worker thread has its own adapter and counters.
      requests: this.#sender.stats(),
    };
  }

  async close(): Promise<void> {
    this.#handle.destroy();
  }
}

/** Loads the SDK (once per thread) and builds the adapter. */
export async function openS3Storage(config: S3StorageConfig, options: S3StorageOptions = {}): Promise<S3Storage> {
  return new S3Storage(config, await loadS3Sdk(), options);
}

export function createS3Storage(config: S3StorageConfig, options: S3StorageOptions = {}): Promise<StoragePort> {
  return openS3Storage(config, options);
}
