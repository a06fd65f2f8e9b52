import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { badRequest, HttpError, HttpErrorCodes } from './errors.js';

/** The caller of an admin route, as recorded in `audit_logs` (`by`). */
export interface Caller {
  /** `http:<X-Lethe-Actor>` or `http:admin-token` when the header is absent. */
  readonly label: string;
  readonly remote: string | null;
  /** False on read routes opened with `protectReads: false` when no token was sent: the label is only a claim. */
  readonly authenticated: boolean;
}

const ACTOR_RE = /^[\p{L}\p{N} ._@:+\-/]{1,100}$/u;

/**
 * Bearer token check in constant time: both sides are hashed to 32-byte digests first, so
 * `timingSafeEqual` always compares equal lengths and the token's length does not leak either.
 */
export function checkBearer(headers: IncomingHttpHeaders, expectedDigest: Buffer): void {
  const header = headers.authorization;
  const match = typeof header === 'string' ? /^Bearer[ ]+(\S+)\s*$/i.exec(header) : null;
  if (!match) throw unauthorized('authorization: expected "Bearer <token>"');
  if (!timingSafeEqual(digest(match[1]!), expectedDigest)) throw unauthorized('authorization: the token is not valid');
}

export function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The identity label: who the operator says they are (the token proves they may act). */
export function callerOf(req: { readonly headers: IncomingHttpHeaders; readonly ip: string }, authenticated: boolean): Caller {
  const raw = req.headers['x-lethe-actor'];
  const remote = req.ip || null;
  if (raw === undefined) return { label: authenticated ? 'http:admin-token' : 'http:anonymous', remote, authenticated };
  const actor = Array.isArray(raw) ? raw.join(',') : raw;
  if (!ACTOR_RE.test(actor)) throw badRequest('x-lethe-actor: expected 1-100 letters, digits, spaces or ._@:+-/ (e.g. "oncall:asha")');
  return { label: `http:${actor}`, remote, authenticated };
}

function unauthorized(message: string): HttpError {
  return new HttpError(401, HttpErrorCodes.UNAUTHORIZED, message, { 'www-authenticate': 'Bearer realm="lethe-admin"' });
}
