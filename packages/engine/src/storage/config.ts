import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, ErrorCodes } from '../errors.js';
import type { StoragePort } from '../ports.js';
import { FileStorage } from './fs.js';
import { createS3Storage } from './s3.js';

/**
 * Serializable storage configuration: it crosses into piscina workers through `workerData`,
 * where each worker builds its own adapter.
 */
export interface FileStorageConfig {
  readonly kind: 'file';
  readonly root: string;
  readonly concurrency?: number;
}

export interface S3StorageConfig {
  readonly kind: 's3';
  readonly bucket: string;
  /** Always applied; '' or ends with '/'. */
  readonly prefix: string;
  readonly endpoint?: string;
  readonly region?: string;
  readonly forcePathStyle?: boolean;
  /** DeleteObjects requests in flight per worker. */
  readonly concurrency?: number;
  /** Versioned buckets: erase every version (default) or keep noncurrent versions. */
  readonly versions?: 'erase-all' | 'keep';
  /** Send Content-MD5 on DeleteObjects (MinIO and others require it). Default true. */
  readonly contentMd5?: boolean;
  /** Attempts per request (1 = no retry) for throttling (503 SlowDown, 429), 5xx and network errors. */
  readonly maxAttempts?: number;
  /** Keep-alive sockets per adapter (each worker thread has one adapter). */
  readonly maxSockets?: number;
  /** First retry's backoff ceiling in ms (doubles each attempt, full jitter; x5 for throttling). */
  readonly retryBaseMs?: number;
  /**
   * Static credentials, for composition roots that hold them (never from the URL, so they stay out
   * of logs). Absent: the SDK's standard chain (env, shared config, SSO, instance role).
   */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
}

export type StorageConfig = FileStorageConfig | S3StorageConfig;

/**
 * Parses `file:///abs/path` (or a plain absolute path) and
 * `s3://bucket/prefix?endpoint=...&region=...&forcePathStyle=true`.
 */
export function parseStorageUrl(input: string, field = 'LETHE_STORAGE'): StorageConfig {
  const text = input.trim();
  if (text === '') throw new ConfigError(`${field}: expected a storage URL like file:///var/lib/docs or s3://bucket/prefix, got an empty value`, ErrorCodes.STORAGE_URL);
  if (isAbsolute(text)) return { kind: 'file', root: resolve(text) };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`${field}: expected a storage URL like file:///var/lib/docs or s3://bucket/prefix, got ${JSON.stringify(text)}`, ErrorCodes.STORAGE_URL);
  }
  if (url.protocol === 'file:') {
    if (url.host !== '' && url.host !== 'localhost') {
      throw new ConfigError(`${field}: file URLs must be local (file:///path), got host ${JSON.stringify(url.host)}`, ErrorCodes.STORAGE_URL);
    }
    return { kind: 'file', root: resolve(fileURLToPath(url)) };
  }
  if (url.protocol === 's3:') return parseS3Url(url, text, field);
  throw new ConfigError(`${field}: unsupported scheme ${JSON.stringify(url.protocol)}; expected file:// or s3://`, ErrorCodes.STORAGE_URL);
}

const S3_PARAMS = new Set(['endpoint', 'region', 'forcePathStyle', 'versions', 'contentMd5', 'concurrency', 'maxAttempts', 'maxSockets', 'retryBaseMs']);

function parseS3Url(url: URL, text: string, field: string): S3StorageConfig {
  const bucket = url.hostname;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ConfigError(`${field}: S3 bucket must be 3-63 lowercase letters, digits, dots or hyphens, got ${JSON.stringify(bucket)}`, ErrorCodes.STORAGE_URL);
  }
  // The URL parser resolves "." and ".." segments (s3://b/a/../c becomes prefix "c/"): check the
  // path as written, so such a prefix is refused rather than silently normalised.
  const decode = (part: string): string => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new ConfigError(`${field}: S3 prefix has a malformed %-escape, got ${JSON.stringify(part)}`, ErrorCodes.STORAGE_URL);
    }
  };
  const rawPath = text.replace(/^s3:\/\/[^/?#]*/i, '').replace(/[?#].*$/, '');
  if (decode(rawPath).split('/').some((s) => s === '.' || s === '..')) {
    throw new ConfigError(`${field}: S3 prefix must not contain empty, "." or ".." segments, got ${JSON.stringify(rawPath.replace(/^\/+/, ''))}`, ErrorCodes.STORAGE_URL);
  }
  let prefix = decode(url.pathname.replace(/^\/+/, ''));
  if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
  if (prefix.split('/').some((s, i, all) => (s === '' && i < all.length - 1) || s === '.' || s === '..')) {
    throw new ConfigError(`${field}: S3 prefix must not contain empty, "." or ".." segments, got ${JSON.stringify(prefix)}`, ErrorCodes.STORAGE_URL);
  }
  for (const name of url.searchParams.keys()) {
    if (!S3_PARAMS.has(name)) {
      throw new ConfigError(`${field}: unknown S3 option ${JSON.stringify(name)}; expected one of ${[...S3_PARAMS].join(', ')}`, ErrorCodes.STORAGE_URL);
    }
  }
  const p = url.searchParams;
  const config: { -readonly [K in keyof S3StorageConfig]: S3StorageConfig[K] } = { kind: 's3', bucket, prefix };
  const endpoint = p.get('endpoint');
  if (endpoint !== null) {
    if (!/^https?:\/\//.test(endpoint)) throw new ConfigError(`${field}: endpoint must be an http(s) URL, got ${JSON.stringify(endpoint)}`, ErrorCodes.STORAGE_URL);
    config.endpoint = endpoint;
  }
  const region = p.get('region');
  if (region !== null) config.region = region;
  const bool = (name: string): boolean | undefined => {
    const v = p.get(name);
    if (v === null) return undefined;
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    throw new ConfigError(`${field}: ${name} must be true or false, got ${JSON.stringify(v)}`, ErrorCodes.STORAGE_URL);
  };
  const int = (name: string, max: number): number | undefined => {
    const v = p.get(name);
    if (v === null) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new ConfigError(`${field}: ${name} must be an integer from 1 to ${max}, got ${JSON.stringify(v)}`, ErrorCodes.STORAGE_URL);
    return n;
  };
  const fps = bool('forcePathStyle');
  if (fps !== undefined) config.forcePathStyle = fps;
  const md5 = bool('contentMd5');
  if (md5 !== undefined) config.contentMd5 = md5;
  const versions = p.get('versions');
  if (versions !== null) {
    if (versions !== 'erase-all' && versions !== 'keep') throw new ConfigError(`${field}: versions must be "erase-all" or "keep", got ${JSON.stringify(versions)}`, ErrorCodes.STORAGE_URL);
    config.versions = versions;
  }
  const concurrency = int('concurrency', 64);
  if (concurrency !== undefined) config.concurrency = concurrency;
  const maxAttempts = int('maxAttempts', 20);
  if (maxAttempts !== undefined) config.maxAttempts = maxAttempts;
  const maxSockets = int('maxSockets', 1024);
  if (maxSockets !== undefined) config.maxSockets = maxSockets;
  const retryBaseMs = int('retryBaseMs', 60_000);
  if (retryBaseMs !== undefined) config.retryBaseMs = retryBaseMs;
  return config;
}

/** Builds the adapter for a config, in whichever thread calls it. */
export async function createStorage(config: StorageConfig): Promise<StoragePort> {
  if (config.kind === 'file') {
    return new FileStorage(config.concurrency === undefined ? { root: config.root } : { root: config.root, concurrency: config.concurrency });
  }
  // Static import, lazy SDK: see s3-sdk.ts for why the adapter is not imported dynamically.
  return createS3Storage(config);
}

export function describeStorage(config: StorageConfig): string {
  if (config.kind === 'file') return `file://${config.root}`;
  return `s3://${config.bucket}/${config.prefix}${config.endpoint ? ` (endpoint ${config.endpoint})` : ''}`;
}
