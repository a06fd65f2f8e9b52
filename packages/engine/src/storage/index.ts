import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, ErrorCodes } from '../errors.js';
import type { StoragePort } from '../ports.js';
import { FileStorage } from './fs/file-storage.js';
import { createS3Storage } from './s3/s3-storage.js';

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
  if (text === '')
    throw new ConfigError(`${field}: expected a storage URL like file:///var/lib/docs or s3://bucket/prefix, got an empty value`, ErrorCodes.STORAGE_URL);
  if (isAbsolute(text)) return { kind: 'file', root: fileRootAsWritten(text, text, field) };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(
      `${field}: expected a storage URL like file:///var/lib/docs or s3://bucket/prefix, got ${JSON.stringify(text)}`,
      ErrorCodes.STORAGE_URL,
    );
  }
  if (url.protocol === 'file:') {
    if (url.host !== '' && url.host !== 'localhost') {
      throw new ConfigError(`${field}: file URLs must be local (file:///path), got host ${JSON.stringify(url.host)}`, ErrorCodes.STORAGE_URL);
    }
    let path: string;
    try {
      path = fileURLToPath(url);
    } catch (cause) {
      throw new ConfigError(`${field}: not a usable file URL (${(cause as Error).message}), got ${JSON.stringify(text)}`, ErrorCodes.STORAGE_URL, { cause });
    }
    if (/[?#]/.test(text))
      throw new ConfigError(
        `${field}: file URLs take no query or fragment (write "?" as %3F, "#" as %23), got ${JSON.stringify(text)}`,
        ErrorCodes.STORAGE_URL,
      );
    const written = decodePart(text.replace(/^file:(?:\/\/[^/]*)?/i, ''), field, 'file URL');
    return { kind: 'file', root: fileRootAsWritten(path, written, field) };
  }
  if (url.protocol === 's3:') return parseS3Url(url, text, field);
  throw new ConfigError(`${field}: unsupported scheme ${JSON.stringify(url.protocol)}; expected file:// or s3://`, ErrorCodes.STORAGE_URL);
}

/**
 * A root must be written the way it is meant (reject, never normalise): `resolve` and the URL
 * parser collapse `//`, `.` and `..` lexically, which is not what the filesystem does through a
 * symlink, and a typo like `/data//tenant-7` should not silently pass. One trailing "/" is fine.
 */
function fileRootAsWritten(path: string, written: string, field: string): string {
  const root = resolve(path);
  if (written !== root && written !== `${root}/`) {
    throw new ConfigError(
      `${field}: the storage root must be a normalised absolute path (no "//", "." or ".." segments), got ${JSON.stringify(written)}; did you mean ${JSON.stringify(root)}?`,
      ErrorCodes.STORAGE_URL,
    );
  }
  return root;
}

const S3_PARAMS = new Set(['endpoint', 'region', 'forcePathStyle', 'versions', 'contentMd5', 'concurrency', 'maxAttempts', 'maxSockets', 'retryBaseMs']);

function parseS3Url(url: URL, text: string, field: string): S3StorageConfig {
  const written = splitS3Url(text, field);
  const bucket = written.authority;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || url.host !== bucket) {
    throw new ConfigError(
      `${field}: S3 bucket must be 3-63 lowercase letters, digits, dots or hyphens (no port or user), got ${JSON.stringify(bucket)}`,
      ErrorCodes.STORAGE_URL,
    );
  }
  const prefix = s3PrefixFromPath(written.path, field);
  // Belt and braces: the WHATWG parser must have read the same prefix. It drops tabs and newlines
  // and resolves "." segments; any disagreement means the URL does not say one prefix.
  if (decodePart(url.pathname.replace(/^\//, ''), field).replace(/([^/])$/, '$1/') !== prefix) {
    throw new ConfigError(`${field}: S3 prefix would be normalised by URL parsing, got ${JSON.stringify(written.path)}`, ErrorCodes.STORAGE_URL);
  }
  const seen = new Set<string>();
  for (const name of url.searchParams.keys()) {
    if (seen.has(name)) throw new ConfigError(`${field}: S3 option ${JSON.stringify(name)} is given twice`, ErrorCodes.STORAGE_URL);
    seen.add(name);
    if (!S3_PARAMS.has(name)) {
      throw new ConfigError(`${field}: unknown S3 option ${JSON.stringify(name)}; expected one of ${[...S3_PARAMS].join(', ')}`, ErrorCodes.STORAGE_URL);
    }
  }
  const p = url.searchParams;
  const config: { -readonly [K in keyof S3StorageConfig]: S3StorageConfig[K] } = { kind: 's3', bucket, prefix };
  const endpoint = p.get('endpoint');
  if (endpoint !== null) {
    if (!/^https?:\/\//.test(endpoint))
      throw new ConfigError(`${field}: endpoint must be an http(s) URL, got ${JSON.stringify(endpoint)}`, ErrorCodes.STORAGE_URL);
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
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new ConfigError(`${field}: ${name} must be an integer from 1 to ${max}, got ${JSON.stringify(v)}`, ErrorCodes.STORAGE_URL);
    return n;
  };
  const fps = bool('forcePathStyle');
  if (fps !== undefined) config.forcePathStyle = fps;
  const md5 = bool('contentMd5');
  if (md5 !== undefined) config.contentMd5 = md5;
  const versions = p.get('versions');
  if (versions !== null) {
    if (versions !== 'erase-all' && versions !== 'keep')
      throw new ConfigError(`${field}: versions must be "erase-all" or "keep", got ${JSON.stringify(versions)}`, ErrorCodes.STORAGE_URL);
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

/** The bucket and path exactly as written (the URL parser would resolve or drop parts of them). */
function splitS3Url(text: string, field: string): { readonly authority: string; readonly path: string } {
  if (text.includes('#')) {
    throw new ConfigError(`${field}: S3 URLs have no fragment; a "#" in the prefix must be written %23, got ${JSON.stringify(text)}`, ErrorCodes.STORAGE_URL);
  }
  const m = /^s3:\/\/([^/?]*)([^?]*)/i.exec(text);
  if (!m) throw new ConfigError(`${field}: expected s3://bucket/prefix, got ${JSON.stringify(text)}`, ErrorCodes.STORAGE_URL);
  return { authority: m[1] ?? '', path: m[2] ?? '' };
}

function decodePart(part: string, field: string, what = 'S3 prefix'): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new ConfigError(`${field}: ${what} has a malformed %-escape, got ${JSON.stringify(part)}`, ErrorCodes.STORAGE_URL);
  }
}

/**
 * The prefix a written path names, one to one (DESIGN invariant 4: reject, never normalise):
 * `/a/b` and `/a/b/` give `a/b/`; `` and `/` give ``. Refused: empty segments (`s3://b//t/` once
 * became `t/`, another tenant's prefix), `.`/`..` (also as %2e), an encoded `/` or a backslash
 * inside a segment (the same prefix written two ways, or a separator some tools split on), and
 * control characters (dropped by URL parsers, rewritten by XML parsers).
 */
export function s3PrefixFromPath(path: string, field = 'LETHE_STORAGE'): string {
  if (path === '' || path === '/') return '';
  const refuse = (why: string): never => {
    throw new ConfigError(`${field}: S3 prefix must not contain ${why}, got ${JSON.stringify(path.replace(/^\//, ''))}`, ErrorCodes.STORAGE_URL);
  };
  const segments = path.slice(1).replace(/\/$/, '').split('/');
  const decoded = segments.map((raw) => {
    if (raw === '') refuse('empty segments ("//")');
    const s = decodePart(raw, field);
    if (s === '.' || s === '..') refuse('"." or ".." segments');
    if (s.includes('/') || s.includes('\\')) refuse('an encoded "/" (%2F) or a backslash');
    if (/[\u0000-\u001F\u007F]/.test(s)) refuse('control characters');
    return s;
  });
  return `${decoded.join('/')}/`;
}

/** Builds the adapter for a config, in whichever thread calls it. */
export async function createStorage(config: StorageConfig): Promise<StoragePort> {
  if (config.kind === 'file') {
    return new FileStorage(config.concurrency === undefined ? { root: config.root } : { root: config.root, concurrency: config.concurrency });
  }
  // Static import, lazy SDK: see s3/sdk.ts for why the adapter is not imported dynamically.
  return createS3Storage(config);
}

export function describeStorage(config: StorageConfig): string {
  if (config.kind === 'file') return `file://${config.root}`;
  return `s3://${config.bucket}/${config.prefix}${config.endpoint ? ` (endpoint ${config.endpoint})` : ''}`;
}
