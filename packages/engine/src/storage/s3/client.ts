import { createHash } from 'node:crypto';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import type { S3StorageConfig } from '../index.js';
import type { S3Sdk } from './sdk.js';

export const DEFAULT_MAX_SOCKETS = 64;

/** What the adapter needs from its client beyond `send`. */
export interface S3ClientHandle {
  readonly client: S3Client;
  /** The endpoint requests actually went to (URL param, AWS_ENDPOINT_URL_S3 or AWS), once known. */
  endpointSeen(): string | null;
  /** Closes the client and its sockets. */
  destroy(): void;
}

interface MutableRequest {
  headers: Record<string, string>;
  body?: unknown;
  protocol?: string;
  hostname?: string;
  port?: number;
}

function isRequest(value: unknown): value is MutableRequest {
  return typeof value === 'object' && value !== null && typeof (value as { headers?: unknown }).headers === 'object';
}

/**
 * Content-MD5 on DeleteObjects (TOOLCHAIN "checksum trap", aws-sdk-js-v3 #6819/#6920): the SDK
 * marks DeleteObjects checksum-required and sends CRC32 even with `requestChecksumCalculation:
 * 'WHEN_REQUIRED'`; MinIO (and other stores following the original API) want Content-MD5 and
 * answer `MissingContentMD5`, and some older ones refuse the flexible checksum headers. So, for
 * DeleteObjects only, this replaces the flexible checksum with Content-MD5 of the exact body,
 * which AWS S3 accepts too. It runs in the build step after the SDK's checksum middleware
 * (priority low) and before signing (finalizeRequest), so the header is signed.
 */
export function replaceChecksumWithContentMd5(request: unknown): void {
  if (!isRequest(request)) return;
  const body = request.body;
  if (typeof body !== 'string' && !(body instanceof Uint8Array)) return;
  for (const name of Object.keys(request.headers)) {
    const lower = name.toLowerCase();
    if (lower.startsWith('x-amz-checksum-') || lower === 'x-amz-sdk-checksum-algorithm' || lower === 'content-md5') delete request.headers[name];
  }
  request.headers['content-md5'] = createHash('md5').update(body).digest('base64');
}

function endpointOf(request: unknown): string | null {
  if (!isRequest(request) || request.hostname === undefined) return null;
  const port = request.port === undefined ? '' : `:${request.port}`;
  return `${request.protocol ?? 'https:'}//${request.hostname}${port}`;
}

/**
 * Builds the client: keep-alive sockets in a bounded pool (`maxSockets`), no SDK retries (the
 * adapter retries itself so it can pace and count throttles; see sender.ts), checksums only
 * when required, and Content-MD5 on DeleteObjects unless `contentMd5=false`. Region, endpoint and
 * credentials not given in the config come from the SDK's own standard sources (AWS_REGION,
 * AWS_ENDPOINT_URL_S3, env, shared config, instance role): this code never reads process.env.
 */
export function buildS3Client(config: S3StorageConfig, sdk: S3Sdk): S3ClientHandle {
  const maxSockets = config.maxSockets ?? DEFAULT_MAX_SOCKETS;
  const agentOptions = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' as const };
  const httpAgent = new sdk.HttpAgent(agentOptions);
  const httpsAgent = new sdk.HttpsAgent(agentOptions);
  const options: S3ClientConfig = {
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: new sdk.http.NodeHttpHandler({ httpAgent, httpsAgent, connectionTimeout: 10_000, requestTimeout: 120_000, throwOnRequestTimeout: true }),
    ...(config.region === undefined ? {} : { region: config.region }),
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    ...(config.forcePathStyle === undefined ? {} : { forcePathStyle: config.forcePathStyle }),
    ...(config.credentials === undefined ? {} : { credentials: { ...config.credentials } }),
  };
  const client = new sdk.s3.S3Client(options);
  if (config.contentMd5 !== false) {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'DeleteObjectsCommand') replaceChecksumWithContentMd5(args.request);
        return next(args);
      },
      { step: 'build', priority: 'low', name: 'letheContentMd5' },
    );
  }
  let seen: string | null = null;
  client.middlewareStack.add(
    (next) => async (args) => {
      seen ??= endpointOf(args.request);
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'letheEndpointSeen' },
  );
  return {
    client,
    endpointSeen: () => seen,
    destroy() {
      client.destroy();
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
