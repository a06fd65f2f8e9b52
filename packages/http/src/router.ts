import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, HttpErrorCodes } from './errors.js';

export type Method = 'GET' | 'POST';

/** What a handler gets: the parsed URL, path parameters, and the raw request/response. */
export interface RouteContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly params: Readonly<Record<string, string>>;
  /** The caller presented the admin token (always true on admin-write routes). */
  readonly authenticated: boolean;
}

export type Handler = (ctx: RouteContext) => Promise<void> | void;

/** Who may call a route: anyone, admin readers (token unless `protectReads: false`), admin writers (token). */
export type Access = 'public' | 'admin-read' | 'admin-write';

interface Route {
  readonly method: Method;
  readonly segments: readonly string[];
  readonly handler: Handler;
  readonly access: Access;
}

export interface Match {
  readonly handler: Handler;
  readonly access: Access;
  readonly params: Record<string, string>;
}

/**
 * A small router: literal segments and `:name` parameters. A path that exists under another
 * method answers 405 with `Allow`; an unknown path 404. HEAD is served by GET routes.
 */
export class Router {
  readonly #routes: Route[] = [];

  add(method: Method, path: string, handler: Handler, access: Access = 'public'): this {
    this.#routes.push({ method, segments: split(path), handler, access });
    return this;
  }

  /** Throws HttpError 404/405; `hidden` paths (admin routes when disabled) are left to the caller. */
  match(method: string, pathname: string): Match {
    let segments: string[];
    try {
      segments = split(pathname).map((s) => decodeURIComponent(s));
    } catch {
      throw new HttpError(400, HttpErrorCodes.BAD_REQUEST, 'path: malformed percent-encoding');
    }
    const allowed = new Set<string>();
    const wanted = method === 'HEAD' ? 'GET' : method;
    for (const route of this.#routes) {
      const params = matchSegments(route.segments, segments);
      if (!params) continue;
      if (route.method === wanted) return { handler: route.handler, access: route.access, params };
      allowed.add(route.method);
      if (route.method === 'GET') allowed.add('HEAD');
    }
    if (allowed.size > 0) {
      const allow = [...allowed].sort().join(', ');
      throw new HttpError(405, HttpErrorCodes.METHOD_NOT_ALLOWED, `method ${method} is not allowed here; use ${allow}`, { allow });
    }
    throw new HttpError(404, HttpErrorCodes.NOT_FOUND, `no route for ${pathname}`);
  }
}

function split(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

function matchSegments(pattern: readonly string[], actual: readonly string[]): Record<string, string> | null {
  if (pattern.length !== actual.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const a = actual[i]!;
    if (p.startsWith(':')) params[p.slice(1)] = a;
    else if (p !== a) return null;
  }
  return params;
}
