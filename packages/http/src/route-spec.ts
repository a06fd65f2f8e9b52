import type { FastifyReply, FastifyRequest, FastifySchema } from 'fastify';

/** Who may call a route: anyone, admin readers (token unless `protectReads: false`), admin writers (token). */
export type Access = 'public' | 'admin-read' | 'admin-write';

/**
 * One route: what app.ts registers on fastify. The schema validates the request and is the
 * route's entry in the OpenAPI document (@fastify/swagger reads it), so the two cannot drift.
 */
export interface RouteSpec {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly access: Access;
  /** Pause and resume: the body is read as JSON whatever its content type (body-parsers.ts). */
  readonly anyContentType?: boolean;
  readonly schema: FastifySchema & { readonly operationId: string; readonly summary: string };
  readonly handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
    /** Set on the routes that only answer 405: the methods the path does have. */
    allow?: string;
  }
  interface FastifyRequest {
    /** The caller presented the admin token (always true on admin-write routes). */
    authenticated: boolean;
  }
}
