import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { ConfigError, createStorage, parseStorageUrl, RESERVED_PREFIX, type S3StorageConfig, type StoragePort } from '@lethe/engine';
import type { DemoSink } from './seed.js';

/** The demo's storage: files under its directory, or an S3 bucket when an s3:// URL is given. */
export interface DemoStorage {
  readonly url: string;
  readonly describe: string;
  readonly sink: DemoSink;
  /** Documents left after the run (Lethe's own objects under `.lethe/`, such as the erasure journal, are not documents). */
  count(): Promise<number>;
  close(): Promise<void>;
}

export async function fileDemoStorage(filesDir: string): Promise<DemoStorage> {
  await rm(filesDir, { recursive: true, force: true });
  return {
    url: `file://${filesDir}`,
    describe: filesDir,
    sink: async (key, content) => {
      await mkdir(dirname(join(filesDir, key)), { recursive: true });
      await writeFile(join(filesDir, key), content);
    },
    count: async () =>
      (await readdir(filesDir, { recursive: true, withFileTypes: true })).filter(
        (e) => e.isFile() && !isReserved(relative(filesDir, join(e.parentPath, e.name)).split(sep).join('/')),
      ).length,
    close: async () => {},
  };
}

/**
 * S3 mode (`lethe demo --storage s3://bucket/prefix?endpoint=...`): seeds objects through the same
 * adapter the run uses. A missing bucket is created with a path-style PUT, which local servers
 * such as moto accept; elsewhere, create the bucket first.
 */
export async function s3DemoStorage(url: string): Promise<DemoStorage> {
  const config = parseStorageUrl(url, '--storage');
  if (config.kind !== 's3') throw new ConfigError(`--storage: the demo takes an s3:// URL (files are the default), got ${JSON.stringify(url)}`);
  if (!config.endpoint)
    throw new ConfigError('--storage: the demo needs ?endpoint=http://host:port in the s3:// URL (a local S3 server such as moto or MinIO)');
  const storage = await createStorage(config);
  await ensureBucket(config, storage);
  return {
    url,
    describe: `s3://${config.bucket}/${config.prefix} at ${config.endpoint}`,
    sink: async (key, content) => {
      const body = Buffer.from(content);
      const written = await storage.writeObject!(key, { body: Readable.from([body]), size: body.length });
      if (written.outcome === 'failed') throw new Error(`seeding ${key}: ${written.code}: ${written.message}`);
    },
    count: async () => {
      let n = 0;
      for await (const o of storage.list()) if (!isReserved(o.key)) n++;
      return n;
    },
    close: () => storage.close(),
  };
}

async function ensureBucket(config: S3StorageConfig, storage: StoragePort): Promise<void> {
  try {
    await storage.ping?.();
    return;
  } catch {
    // Missing, most likely: try to create it below.
  }
  const res = await request(`${config.endpoint!.replace(/\/$/, '')}/${config.bucket}`, { method: 'PUT' }).catch((e: unknown) => {
    throw new ConfigError(`--storage: S3 endpoint ${config.endpoint} is not reachable (${(e as Error).message})`);
  });
  await res.body.dump();
  if (res.statusCode >= 300 && res.statusCode !== 409) {
    throw new ConfigError(
      `--storage: bucket ${config.bucket} does not exist at ${config.endpoint} and could not be created (HTTP ${res.statusCode}); create it first`,
    );
  }
}

/** Lethe's own objects (`.lethe/journal/`, `.lethe/trash/`), not the platform's documents. */
function isReserved(key: string): boolean {
  return key === RESERVED_PREFIX || key.startsWith(`${RESERVED_PREFIX}/`);
}
