import { describe, expect, it } from 'vitest';
import { adviceFor, classifyCode, classifyS3Error } from './errors.js';

function sdkError(name: string, status: number): Error {
  return Object.assign(new Error(`${name} message`), { name, Code: name, $metadata: { httpStatusCode: status } });
}

describe('classifyS3Error', () => {
  it.each([
    [sdkError('SlowDown', 503), 'SlowDown', true, true],
    [sdkError('TooManyRequests', 429), 'TooManyRequests', true, true],
    [Object.assign(new Error('UnknownError'), { name: 'Unknown', $metadata: { httpStatusCode: 429 } }), 'HTTP429', true, true],
    [sdkError('InternalError', 500), 'InternalError', false, true],
    [sdkError('ServiceUnavailable', 503), 'ServiceUnavailable', false, true],
    [sdkError('NotImplemented', 501), 'NotImplemented', false, false],
    [sdkError('NoSuchBucket', 404), 'NoSuchBucket', false, false],
    [sdkError('AccessDenied', 403), 'AccessDenied', false, false],
    [sdkError('InvalidAccessKeyId', 403), 'InvalidAccessKeyId', false, false],
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }), 'ECONNREFUSED', false, true],
    [Object.assign(new Error('timed out'), { name: 'TimeoutError' }), 'TimeoutError', false, true],
    [new Error('Region is missing'), 'RegionMissing', false, false],
    ['a string', 'S3Error', false, false],
  ])('%#: reads %s', (error, code, throttled, retryable) => {
    expect(classifyS3Error(error)).toMatchObject({ code, throttled, retryable });
  });

  it('says the status instead of "UnknownError"', () => {
    expect(classifyS3Error(Object.assign(new Error('UnknownError'), { $metadata: { httpStatusCode: 502 } })).message).toBe('HTTP 502');
  });
});

describe('classifyCode (per-key errors in a DeleteObjects response)', () => {
  it('retries transient and throttling codes, never access or lock refusals', () => {
    expect(classifyCode('InternalError', undefined)).toEqual({ throttled: false, retryable: true });
    expect(classifyCode('SlowDown', undefined)).toEqual({ throttled: true, retryable: true });
    expect(classifyCode('AccessDenied', undefined)).toEqual({ throttled: false, retryable: false });
  });
});

describe('adviceFor', () => {
  it('names what to check for the usual operator mistakes', () => {
    expect(adviceFor('NoSuchBucket')).toMatch(/bucket name, region and endpoint/);
    expect(adviceFor('AccessDenied')).toMatch(/s3:DeleteObjectVersion/);
    expect(adviceFor('ECONNREFUSED')).toMatch(/AWS_ENDPOINT_URL_S3/);
    expect(adviceFor('SomethingElse')).toBe('');
    expect(adviceFor('AccessDenied', 'key')).toMatch(/legal hold/);
  });
});
