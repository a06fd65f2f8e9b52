import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, ErrorCodes } from '../errors.js';
import { describeStorage, parseStorageUrl } from './index.js';

describe('parseStorageUrl for s3://', () => {
  it('reads bucket, prefix and every option', () => {
    const url =
      's3://docs-bucket/tenant/7?endpoint=http://127.0.0.1:9000&region=us-east-1&forcePathStyle=true&versions=keep&contentMd5=false&concurrency=8&maxAttempts=3&maxSockets=32&retryBaseMs=50';
    expect(parseStorageUrl(url)).toEqual({
      kind: 's3',
      bucket: 'docs-bucket',
      prefix: 'tenant/7/',
      endpoint: 'http://127.0.0.1:9000',
      region: 'us-east-1',
      forcePathStyle: true,
      versions: 'keep',
      contentMd5: false,
      concurrency: 8,
      maxAttempts: 3,
      maxSockets: 32,
      retryBaseMs: 50,
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

  // s3://bucket//tenant-7/ was read as prefix "tenant-7/" and deleted another tenant's object:
  // a URL whose path does not name exactly one prefix is refused, never normalised.
  it.each([
    ['s3://docs-bucket//tenant-7/', 'empty segments'],
    ['s3://docs-bucket///', 'empty segments'],
    ['s3://docs-bucket/a/b//', 'empty segments'],
    ['s3://docs-bucket/a/%2E%2E', '"." or ".." segments'],
    ['s3://docs-bucket/a/.', '"." or ".." segments'],
    ['s3://docs-bucket/tenant%2F7/', 'an encoded "/" (%2F)'],
    ['s3://docs-bucket/tenant%2f7', 'an encoded "/" (%2F)'],
    ['s3://docs-bucket/a%5C..%5Cb', 'a backslash'],
    ['s3://docs-bucket/a\\b', 'a backslash'],
    ['s3://docs-bucket/ten\tant-7/', 'control characters'],
    ['s3://docs-bucket/tenant\n-7/', 'control characters'],
    ['s3://docs-bucket/t/%00', 'control characters'],
    ['s3://docs-bucket/tenant#7/', 'no fragment'],
    ['s3://docs-bucket:9000/t/', '(no port or user)'],
    ['s3://key:secret@docs-bucket/t/', '(no port or user)'],
    ['s3://docs-bucket/t?region=a&region=b', '"region" is given twice'],
  ])('refuses %j with code LETHE_E_STORAGE_URL (%s)', (url, message) => {
    let caught: unknown;
    try {
      parseStorageUrl(url);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).code).toBe(ErrorCodes.STORAGE_URL);
    expect((caught as ConfigError).message).toContain(message);
  });

  it.each([
    ['s3://docs-bucket', ''],
    ['s3://docs-bucket/', ''],
    ['s3://docs-bucket/tenant-7', 'tenant-7/'],
    ['s3://docs-bucket/tenant-7/', 'tenant-7/'],
    ['s3://docs-bucket/a%20b/%C3%BC/', 'a b/ü/'],
    ['s3://docs-bucket/..a/b.', '..a/b./'],
  ])('reads %j as exactly the prefix %j', (url, prefix) => {
    expect(parseStorageUrl(url)).toMatchObject({ kind: 's3', prefix });
  });

  it('gives every accepted path its own prefix (no two spellings collapse, nothing dropped)', () => {
    const segment = fc.oneof(fc.constantFrom('', '.', '..', '%2e', '%2F', 'a', '%61', '\t', '#', '\\', ' '), fc.string({ maxLength: 3 }));
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 5 }), fc.boolean(), (segments, slash) => {
        const url = `s3://docs-bucket/${segments.join('/')}${slash ? '/' : ''}`;
        fc.pre(url === url.trim() && !url.includes('?')); // the value is trimmed; "?" starts the options
        let prefix: string;
        try {
          const config = parseStorageUrl(url);
          if (config.kind !== 's3') throw new Error('expected s3');
          prefix = config.prefix;
        } catch (e) {
          if (e instanceof ConfigError && e.code === ErrorCodes.STORAGE_URL) return;
          throw e;
        }
        // The accepted prefix is the written path, decoded segment by segment, and re-encoding it
        // gives back a URL that reads the same prefix.
        const expected = decodeURIComponent(url.slice('s3://docs-bucket/'.length).replace(/\/$/, ''));
        expect(prefix).toBe(expected === '' ? '' : `${expected}/`);
        expect(
          prefix
            .split('/')
            .slice(0, -1)
            .every((s) => s !== '' && s !== '.' && s !== '..'),
        ).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('describes the store without credentials', () => {
    const config = { ...parseStorageUrl('s3://docs-bucket/p?endpoint=http://127.0.0.1:9000'), credentials: { accessKeyId: 'AKIA', secretAccessKey: 'secret' } };
    expect(describeStorage(config)).toBe('s3://docs-bucket/p/ (endpoint http://127.0.0.1:9000)');
  });
});

describe('parseStorageUrl for file roots', () => {
  it.each(['/srv/docs', '/srv/docs/', 'file:///srv/docs', 'file:///srv/docs/', 'file://localhost/srv/docs', 'file:///srv/a%20b'])(
    'reads %j as written',
    (url) => {
      expect(parseStorageUrl(url)).toEqual({ kind: 'file', root: url.includes('a%20b') ? '/srv/a b' : '/srv/docs' });
    },
  );

  it.each([
    '/srv//docs',
    '/srv/docs/../other',
    '/srv/./docs',
    'file:///srv//tenant-7',
    'file:///srv/tenant-7/../tenant-8',
    'file:///srv/%2e%2e/etc',
    'file:///srv/a%2Fb',
    'file:///srv/docs?x=1',
    'file:///srv/docs#x',
    'file:///srv/do\tcs',
    'file:srv/docs',
  ])('refuses %j with code LETHE_E_STORAGE_URL', (url) => {
    expect(() => parseStorageUrl(url)).toThrow(expect.objectContaining({ code: ErrorCodes.STORAGE_URL }));
  });
});
