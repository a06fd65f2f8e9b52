import { describe, expect, it } from 'vitest';
import { HttpError } from './errors.js';
import { Router } from './router.js';

const noop = (): void => {};
const router = new Router()
  .add('GET', '/api/admin/cleanup/runs', noop, 'admin-read')
  .add('POST', '/api/admin/cleanup/runs', noop, 'admin-write')
  .add('GET', '/api/admin/cleanup/runs/:id', noop, 'admin-read')
  .add('GET', '/livez', noop);

function thrown(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error('expected an HttpError');
}

describe('Router', () => {
  it('matches literal paths and parameters, with access', () => {
    expect(router.match('GET', '/livez').access).toBe('public');
    expect(router.match('POST', '/api/admin/cleanup/runs').access).toBe('admin-write');
    expect(router.match('GET', '/api/admin/cleanup/runs/abc').params).toEqual({ id: 'abc' });
    expect(router.match('GET', '/api/admin/cleanup/runs/a%20b').params).toEqual({ id: 'a b' });
    expect(router.match('HEAD', '/livez').access).toBe('public');
  });

  it('tolerates a trailing slash, not extra segments', () => {
    expect(router.match('GET', '/livez/').access).toBe('public');
    expect(thrown(() => router.match('GET', '/livez/x')).status).toBe(404);
    expect(thrown(() => router.match('GET', '/api/admin/cleanup/runs/a/b')).status).toBe(404);
  });

  it('405 with Allow when the path exists under another method', () => {
    const e = thrown(() => router.match('DELETE', '/api/admin/cleanup/runs'));
    expect(e.status).toBe(405);
    expect(e.headers.allow).toBe('GET, HEAD, POST');
  });

  it('400 on malformed percent-encoding', () => {
    expect(thrown(() => router.match('GET', '/api/admin/cleanup/runs/%E0%A4')).status).toBe(400);
  });
});
