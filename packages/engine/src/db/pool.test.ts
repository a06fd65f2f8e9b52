import { describe, expect, it } from 'vitest';
import { ensureUtcSession, utcConnectionConfig } from './pool.js';
import { ErrorCodes, LetheError } from '../errors.js';

describe('utcConnectionConfig', () => {
  it('leaves a URL without options alone and starts the session in UTC', () => {
    expect(utcConnectionConfig('postgres://app@db:5432/prod')).toEqual({ connectionString: 'postgres://app@db:5432/prod', options: '-c TimeZone=UTC' });
  });

  it("moves the URL's own options before ours, so its TimeZone cannot win (the last -c does)", () => {
    const r = utcConnectionConfig('postgres://app:p%40ss@db:5432/prod?options=-c%20TimeZone%3DAsia%2FKolkata%20-c%20statement_timeout%3D5s&sslmode=require');
    expect(r).toEqual({
      connectionString: 'postgres://app:p%40ss@db:5432/prod?sslmode=require',
      options: '-c TimeZone=Asia/Kolkata -c statement_timeout=5s -c TimeZone=UTC',
    });
  });

  it('merges every options parameter (pg would take the last one alone)', () => {
    expect(utcConnectionConfig('postgres://db/prod?options=-c%20a%3D1&options=-c%20TimeZone%3DEST').options).toBe('-c a=1 -c TimeZone=EST -c TimeZone=UTC');
  });
});

describe('ensureUtcSession', () => {
  const session = (answer: () => Promise<{ rows: { tz: string }[] }>) => ({ query: answer }) as unknown as Parameters<typeof ensureUtcSession>[0];

  it('accepts a session that reports UTC after setting it', async () => {
    await expect(ensureUtcSession(session(async () => ({ rows: [{ tz: 'UTC' }] })))).resolves.toBeUndefined();
  });

  it('refuses a session that still reports another zone (a pooler rewriting settings), naming it', async () => {
    const error = await ensureUtcSession(session(async () => ({ rows: [{ tz: 'Asia/Kolkata' }] }))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LetheError);
    expect(error).toMatchObject({ code: ErrorCodes.SESSION_TIME_ZONE, message: expect.stringContaining('TimeZone "Asia/Kolkata"') });
  });

  it('explains a server refusal, and lets a lost connection through unchanged (it stays retryable)', async () => {
    const refused = Object.assign(new Error('parameter "TimeZone" cannot be changed now'), { severity: 'ERROR', code: '55P02' });
    await expect(ensureUtcSession(session(async () => Promise.reject(refused)))).rejects.toMatchObject({ code: ErrorCodes.SESSION_TIME_ZONE, cause: refused });
    const lost = Object.assign(new Error('Connection terminated unexpectedly'), {});
    await expect(ensureUtcSession(session(async () => Promise.reject(lost)))).rejects.toBe(lost);
  });
});
