import { describe, expect, it } from 'vitest';
import { describeStorage, parseStorageUrl } from './config.js';

describe('parseStorageUrl for s3://', () => {
  it('reads bucket, prefix and every option', () => {
    const url = 's3://docs-bucket/tenant/7?endpoint=http://127.0.0.1:9000&region=us-east-1&forcePathStyle=true&versions=keep&contentMd5=false&concurrency=8&maxAttempts=3&maxSockets=32&retryBaseMs=50';
    expect(parseStorageUrl(url)).toEqual({
      kind: 's3', bucket: 'docs-bucket', prefix: 'tenant/7/', endpoint: 'http://127.0.0.1:9000', region: 'us-east-1',
      forcePathStyle: true, versions: 'keep', contentMd5: false, concurrency: 8, maxAttempts: 3, maxSockets: 32, retryBaseMs: 50,
    });
  });

  it('leaves region, endpoint and credentials to the SDK when absent', () => {
    expect(parseStorageUrl('s3://docs-bucket')).toEqual({ kind: 's3', bucket: 'docs-bucket', prefix: '' });
  });

  it.each([
    ['s3://docs-bucket/p?retryBaseMs=0', 'LETHE_STORAGE: retryBaseMs must be an integer from 1 to 60000, got "0"'],
    ['s3://docs-bucket/p?versions=all', 'LETHE_STORAGE: versions must be "erase-all" or "keep", got "all"'],
    ['s3://docs-bucket/p?endpoint=minio:9000', 'LETHE_STORAGE: endpoint must be an http(s) URL, got "minio:9000"'],
    ['s3://docs-bucket/p?secretAccessKey=x', 'LETHE_STORAGE: unknown S3 option "secretAccessKey"'],
    ['s3://docs-bucket/a/../b', 'LETHE_STORAGE: S3 prefix must not contain'],
    ['s3://docs-bucket/a/%2e%2e/b', 'LETHE_STORAGE: S3 prefix must not contain'],
    ['s3://docs-bucket/a/./b', 'LETHE_STORAGE: S3 prefix must not contain'],
    ['s3://docs-bucket/a//b', 'LETHE_STORAGE: S3 prefix must not contain'],
    ['s3://docs-bucket/a%zz', 'LETHE_STORAGE: S3 prefix has a malformed %-escape'],
    ['s3://Docs/p', 'LETHE_STORAGE: S3 bucket must be 3-63 lowercase letters'],
  ])('refuses %s naming the field', (url, message) => {
    expect(() => parseStorageUrl(url)).toThrow(message);
  });

  it('describes the store without credentials', () => {
    const config = { ...parseStorageUrl('s3://docs-bucket/p?endpoint=http://127.0.0.1:9000'), credentials: { accessKeyId: 'AKIA', secretAccessKey: 'secret' } };
    expect(describeStorage(config)).toBe('s3://docs-bucket/p/ (endpoint http://127.0.0.1:9000)');
  });
});
