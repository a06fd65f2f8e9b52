import { describe, expect, it } from 'vitest';
import { isRetryableStatus, resolveWebhookOptions } from './webhook.js';

describe('webhook options', () => {
  it('accept an http(s) URL and one-line headers; refuse anything else naming the field', () => {
    const o = resolveWebhookOptions({ url: 'https://hooks.example/services/T/B/X', headers: { Authorization: 'Bearer t' }, version: '0.1.0' });
    expect(o.headers).toMatchObject({ authorization: 'Bearer t', 'content-type': 'application/json', 'user-agent': 'lethe/0.1.0' });
    expect(o).toMatchObject({ maxAttempts: 5, baseDelayMs: 500, deadlineMs: 30_000 });
    expect(() => resolveWebhookOptions({ url: 'hooks.example' })).toThrow(/^webhookUrl \(LETHE_WEBHOOK_URL\): expected an http\(s\) URL/);
    expect(() => resolveWebhookOptions({ url: 'ftp://hooks.example' })).toThrow(/scheme "ftp:"/);
    expect(() => resolveWebhookOptions({ url: 'http://h', headers: { 'X-A': 'one\r\nX-B: two' } })).toThrow(/^webhookHeaders\.X-A: expected a one-line string/);
    expect(() => resolveWebhookOptions({ url: 'http://h', headers: { 'bad header': 'x' } })).toThrow(
      /^webhookHeaders: "bad header" is not a valid header name/,
    );
    expect(() => resolveWebhookOptions({ url: 'http://h', maxAttempts: 0 })).toThrow(/maxAttempts: expected an integer from 1/);
  });

  it('retry 408, 429 and 5xx only', () => {
    expect([200, 400, 401, 404, 408, 429, 500, 502, 503].map(isRetryableStatus)).toEqual([false, false, false, false, true, true, true, true, true]);
  });
});
