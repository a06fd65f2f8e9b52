import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { replaceChecksumWithContentMd5 } from './client.js';

describe('replaceChecksumWithContentMd5', () => {
  it('replaces the flexible checksum headers with Content-MD5 of the exact body', () => {
    const body = '<Delete><Object><Key>a</Key></Object><Quiet>true</Quiet></Delete>';
    const request = { headers: { 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-sdk-checksum-algorithm': 'CRC32', 'content-type': 'application/xml' }, body };
    replaceChecksumWithContentMd5(request);
    expect(request.headers).toEqual({ 'content-type': 'application/xml', 'content-md5': createHash('md5').update(body).digest('base64') });
  });

  it('leaves requests without a buffered body alone', () => {
    const request = { headers: { 'x-amz-checksum-crc32': 'AAAAAA==' }, body: undefined };
    replaceChecksumWithContentMd5(request);
    expect(request.headers).toEqual({ 'x-amz-checksum-crc32': 'AAAAAA==' });
  });
});
