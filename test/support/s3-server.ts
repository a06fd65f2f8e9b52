import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { S3StorageConfig } from '@lethe/engine';
import { CreateBucketCommand, mapLimit, PutBucketVersioningCommand, PutObjectCommand, S3Client } from '@lethe/engine/testing';
import { freePort } from './postgres-server.js';

/**
 * A real S3 server for tests (docs/storage-s3.md#tests-and-benchmark): $LETHE_TEST_S3_ENDPOINT when set (credentials from
 * $LETHE_TEST_S3_ACCESS_KEY_ID / $LETHE_TEST_S3_SECRET_ACCESS_KEY, default "test"), else a
 * `moto_server` on a free loopback port, started per test file and stopped after it. No vitest
 * here: bench/s3-end-to-end.bench.ts uses it too (test/storage/describe-s3.ts has the skip logic).
 */
export interface S3TestServer {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** A plain SDK client for arranging and checking objects (never the adapter under test). */
  readonly client: S3Client;
  /** The moto_server process this setup started (benches read its CPU time), or null for a server given by env. */
  readonly pid: number | null;
  stop(): Promise<void>;
}

export type S3Availability = { readonly ok: true; readonly via: 'env' | 'moto' } | { readonly ok: false; readonly reason: string };

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export function s3Availability(): S3Availability {
  if (process.env.LETHE_TEST_S3_ENDPOINT) return { ok: true, via: 'env' };
  if (onPath('moto_server')) return { ok: true, via: 'moto' };
  return { ok: false, reason: 'no S3 endpoint: LETHE_TEST_S3_ENDPOINT is unset and moto_server is not on PATH' };
}

async function waitUntilReady(endpoint: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: string | null = null;
  child.once('exit', (code, signal) => {
    exited = `moto_server exited early (code ${code}, signal ${signal})`;
  });
  for (;;) {
    if (exited) throw new Error(exited);
    try {
      const res = await fetch(endpoint, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`moto_server did not answer on ${endpoint} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function startS3Server(): Promise<S3TestServer> {
  const region = 'us-east-1';
  const envEndpoint = process.env.LETHE_TEST_S3_ENDPOINT;
  const credentials = {
    accessKeyId: process.env.LETHE_TEST_S3_ACCESS_KEY_ID ?? 'test',
    secretAccessKey: process.env.LETHE_TEST_S3_SECRET_ACCESS_KEY ?? 'test',
  };
  let endpoint: string;
  let child: ChildProcess | null = null;
  if (envEndpoint) {
    endpoint = envEndpoint.replace(/\/+$/, '');
  } else {
    const port = await freePort();
    endpoint = `http://127.0.0.1:${port}`;
    child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 4000) stderr += d.toString();
    });
    try {
      await waitUntilReady(endpoint, child, 30_000);
    } catch (error) {
      await stopChild(child);
      throw new Error(`${(error as Error).message}\n${stderr}`);
    }
  }
  const client = new S3Client({ endpoint, region, forcePathStyle: true, credentials });
  const started = child;
  return {
    endpoint,
    region,
    credentials,
    client,
    pid: started?.pid ?? null,
    async stop() {
      client.destroy();
      if (started) await stopChild(started);
    },
  };
}

/** A bucket name unique to this test run (servers given by env may be shared). */
export function uniqueBucket(label: string): string {
  return `lethe-${label
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 30)}-${randomBytes(4).toString('hex')}`;
}

export async function createBucket(server: S3TestServer, bucket: string, options: { versioned?: boolean; objectLock?: boolean } = {}): Promise<string> {
  await server.client.send(new CreateBucketCommand({ Bucket: bucket, ...(options.objectLock ? { ObjectLockEnabledForBucket: true } : {}) }));
  if (options.versioned) {
    await server.client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  }
  return bucket;
}

/** Puts objects (body = key unless given), 16 requests in flight. */
export async function putObjects(server: S3TestServer, bucket: string, keys: readonly string[], body?: string): Promise<void> {
  await mapLimit(keys, 16, (key) => server.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body ?? key })));
}

/** An adapter config for this server (static credentials: no global env needed). */
export function s3Config(server: S3TestServer, bucket: string, prefix: string, extra: Partial<S3StorageConfig> = {}): S3StorageConfig {
  return { kind: 's3', bucket, prefix, endpoint: server.endpoint, region: server.region, forcePathStyle: true, credentials: server.credentials, ...extra };
}
