import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, HttpError, HttpErrorCodes } from './errors.js';

type Done = (error: Error | null, body?: unknown) => void;

/**
 * Request bodies are JSON objects. An empty body is `{}` (routes with optional fields); anything
 * else must be `application/json`, valid UTF-8 and valid JSON (fastify enforces the size limit
 * first: 413). Whether it is an object, and its fields, is the route schema's business.
 */
export function useJsonBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req: FastifyRequest, body: Buffer, done: Done) => {
    parse(body, '', done);
  });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (req: FastifyRequest, body: Buffer, done: Done) => {
    if (body.toString('latin1').trim() === '') {
      done(null, {});
      return;
    }
    const type = mediaType(req);
    done(new HttpError(415, HttpErrorCodes.UNSUPPORTED_MEDIA_TYPE, `content-type: expected application/json, got ${JSON.stringify(type || 'none')}`));
  });
}

/**
 * Only for the emergency routes (pause, resume; runbook EMERGENCY-001): the body is read as JSON
 * whatever its content type. `curl -d '{"reason":"..."}'` sends application/x-www-form-urlencoded,
 * and a 415 there left Lethe running while curl exited 0. Safe from cross-site forms because these
 * routes need an `Authorization: Bearer` header, which a browser never sends cross-origin without
 * a preflight.
 */
export function useJsonBodiesOfAnyType(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (req: FastifyRequest, body: Buffer, done: Done) => {
    const type = mediaType(req);
    const sent = type && type !== 'application/json' ? `; it was sent as ${type}, and is read as JSON whatever the content type` : '';
    parse(body, `: expected a JSON object like {"reason": "..."}${sent}`, done);
  });
}

function parse(body: Buffer, hint: string, done: Done): void {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    done(badRequest('body: not valid UTF-8', HttpErrorCodes.BAD_JSON));
    return;
  }
  if (text.trim() === '') {
    done(null, {});
    return;
  }
  try {
    done(null, JSON.parse(text));
  } catch (error) {
    done(badRequest(`body: malformed JSON (${(error as Error).message})${hint}`, HttpErrorCodes.BAD_JSON));
  }
}

function mediaType(req: FastifyRequest): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}
