import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError, HttpErrorCodes } from './errors.js';
import type { ResolvedHttpOptions } from './options.js';

/**
 * Every answer other than 2xx is `{ error: { code, message } }` with a stable code. HttpErrors
 * (ours, and the engine errors the routes map) keep their status; fastify's own client errors get
 * ours; anything else is a generic 500: the real error goes to the log, never to the caller
 * (no stack trace, no driver message).
 */
export function errorHandler(o: ResolvedHttpOptions) {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply): void => {
    let answer = asHttpError(error, o.bodyLimitBytes);
    if (answer === null) {
      o.logger.error({ err: error, method: request.method, url: request.url }, 'http: internal error');
      answer = new HttpError(500, HttpErrorCodes.INTERNAL, 'internal error; see the service log');
    } else if (answer.status >= 500) {
      o.logger.warn({ code: answer.code, method: request.method, url: request.url }, answer.message);
    }
    send(reply, answer);
  };
}

/** fastify's `frameworkErrors`: a path fastify cannot decode, before any route is chosen. */
export function frameworkErrorHandler(o: ResolvedHttpOptions) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    if (error.code === 'FST_ERR_BAD_URL') {
      send(reply, new HttpError(400, HttpErrorCodes.BAD_REQUEST, 'path: malformed percent-encoding'));
      return;
    }
    errorHandler(o)(error, request, reply);
  };
}

export function send(reply: FastifyReply, e: HttpError): void {
  // The headers app.ts's onSend hook adds too: a framework error may be answered without hooks.
  void reply
    .code(e.status)
    .headers({ 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...e.headers })
    .send({ error: { code: e.code, message: e.message } });
}

function asHttpError(error: unknown, limitBytes: number): HttpError | null {
  if (error instanceof HttpError) return error;
  const e = error as Partial<FastifyError> | null;
  switch (e?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError(413, HttpErrorCodes.BODY_TOO_LARGE, `body: larger than the limit of ${limitBytes} bytes`, { connection: 'close' });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpError(415, HttpErrorCodes.UNSUPPORTED_MEDIA_TYPE, 'content-type: expected application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HttpError(400, HttpErrorCodes.BAD_REQUEST, 'content-length: does not match the body');
    default:
      break;
  }
  // Another client error fastify found in the request (it says what): a 4xx of ours.
  const status = e?.statusCode;
  if (typeof e?.code === 'string' && e.code.startsWith('FST_') && typeof status === 'number' && status >= 400 && status < 500) {
    return new HttpError(status, status === 404 ? HttpErrorCodes.NOT_FOUND : HttpErrorCodes.BAD_REQUEST, e.message ?? 'bad request');
  }
  return null;
}

/**
 * Requests node's HTTP parser refuses before fastify sees them: headers over the limit (431), a
 * request that took too long (408), malformed HTTP (400); the same JSON shape as every error.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, code, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', HttpErrorCodes.HEADERS_TOO_LARGE, 'headers: larger than the limit (16 KiB)']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', HttpErrorCodes.REQUEST_TIMEOUT, 'request: not received in time']
        : [400, 'Bad Request', HttpErrorCodes.BAD_REQUEST, 'request: malformed HTTP'];
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
