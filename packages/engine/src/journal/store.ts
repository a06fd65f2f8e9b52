import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { buildS3Client, type S3ClientHandle } from '../storage/s3/client.js';
import { loadS3Sdk, type S3Sdk } from '../storage/s3/sdk.js';
import type { S3StorageConfig } from '../storage/index.js';
import type { JournalLocation } from './config.js';

/**
 * The journal's port (docs/safety.md#erasures-survive-a-backup-restore): named objects, written once, listed by name. Two
 * adapters: a directory (the storage root's `.lethe/journal/`, or a configured one) and an S3
 * prefix (the storage's `<prefix>.lethe/journal/`, or a configured bucket). Names are the
 * journal's own (entries.ts), never a file key. Errors are thrown as they come; journal.ts
 * turns them into LETHE_E_JOURNAL.
 */
export interface JournalStore {
  readonly describe: string;
  /** Writes an object whole: a reader never sees half of one. */
  put(name: string, body: string): Promise<void>;
  /** The object's text, or null when there is none. */
  get(name: string): Promise<string | null>;
  /** Every object's name (in no particular order). */
  list(): AsyncIterable<string>;
  close(): Promise<void>;
}

export async function openJournalStore(location: JournalLocation): Promise<JournalStore> {
  if (location.kind === 'file') return new FileJournalStore(location.dir);
  return S3JournalStore.open(location.config);
}

/** A directory: written to a temporary name, flushed, then renamed into place. */
export class FileJournalStore implements JournalStore {
  readonly describe: string;
  readonly #dir: string;
  #made = false;

  constructor(dir: string) {
    this.#dir = dir;
    this.describe = `dir:${dir}`;
  }

  async put(name: string, body: string): Promise<void> {
    if (!this.#made) {
      await mkdir(this.#dir, { recursive: true });
      this.#made = true;
    }
    const tmp = join(this.#dir, `.tmp-${randomUUID()}`);
    const handle = await open(tmp, 'wx');
    try {
      await handle.writeFile(body, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(tmp, join(this.#dir, name));
    } catch (error) {
      await unlink(tmp).catch(() => {});
      throw error;
    }
  }

  async get(name: string): Promise<string | null> {
    try {
      return await readFile(join(this.#dir, name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async *list(): AsyncIterable<string> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const n of names) if (!n.startsWith('.tmp-')) yield n;
  }

  async close(): Promise<void> {}
}

/** An S3 prefix: one PutObject per batch (S3 writes whole objects), ListObjectsV2 pages to list. */
export class S3JournalStore implements JournalStore {
  readonly describe: string;
  readonly #handle: S3ClientHandle;
  readonly #sdk: S3Sdk;
  readonly #config: S3StorageConfig;

  private constructor(config: S3StorageConfig, sdk: S3Sdk) {
    this.#config = config;
    this.#sdk = sdk;
    this.#handle = buildS3Client(config, sdk);
    this.describe = `s3://${config.bucket}/${config.prefix}`;
  }

  static async open(config: S3StorageConfig): Promise<S3JournalStore> {
    return new S3JournalStore(config, await loadS3Sdk());
  }

  async put(name: string, body: string): Promise<void> {
    await this.#handle.client.send(
      new this.#sdk.s3.PutObjectCommand({
        Bucket: this.#config.bucket,
        Key: this.#config.prefix + name,
        Body: body,
        ContentType: 'application/json',
        // Object Lock buckets with a default retention refuse a PutObject without Content-MD5.
        ContentMD5: createHash('md5').update(body, 'utf8').digest('base64'),
      }),
    );
  }

  async get(name: string): Promise<string | null> {
    try {
      const out = await this.#handle.client.send(new this.#sdk.s3.GetObjectCommand({ Bucket: this.#config.bucket, Key: this.#config.prefix + name }));
      return (await out.Body?.transformToString('utf8')) ?? '';
    } catch (error) {
      const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return null;
      throw error;
    }
  }

  async *list(): AsyncIterable<string> {
    let token: string | undefined;
    do {
      const out = await this.#handle.client.send(
        new this.#sdk.s3.ListObjectsV2Command({
          Bucket: this.#config.bucket,
          Prefix: this.#config.prefix,
          ...(token === undefined ? {} : { ContinuationToken: token }),
        }),
      );
      for (const o of out.Contents ?? []) {
        const name = o.Key?.slice(this.#config.prefix.length);
        // Only the journal's own level: a prefix of its own may hold other things below.
        if (name && !name.includes('/')) yield name;
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async close(): Promise<void> {
    this.#handle.destroy();
  }
}
