import { errorBody, isLetheError } from '@lethe/engine';

/**
 * HTTP errors: every answer other than 2xx carries `{ error: { code, message } }` with a stable
 * code. Client mistakes are 4xx with a message naming the field; anything unexpected is a 500
 * with a generic message (the real error goes to the log, never to the caller).
 */
export const HttpErrorCodes = {
  NOT_FOUND: 'LETHE_E_HTTP_NOT_FOUND',
  METHOD_NOT_ALLOWED: 'LETHE_E_HTTP_METHOD_NOT_ALLOWED',
  BAD_REQUEST: 'LETHE_E_HTTP_BAD_REQUEST',
  BAD_JSON: 'LETHE_E_HTTP_BAD_JSON',
  BODY_TOO_LARGE: 'LETHE_E_HTTP_BODY_TOO_LARGE',
  HEADERS_TOO_LARGE: 'LETHE_E_HTTP_HEADERS_TOO_LARGE',
  REQUEST_TIMEOUT: 'LETHE_E_HTTP_REQUEST_TIMEOUT',
  UNSUPPORTED_MEDIA_TYPE: 'LETHE_E_HTTP_UNSUPPORTED_MEDIA_TYPE',
  UNAUTHORIZED: 'LETHE_E_HTTP_UNAUTHORIZED',
  UNAVAILABLE: 'LETHE_E_HTTP_UNAVAILABLE',
  INTERNAL: 'LETHE_E_HTTP_INTERNAL',
} as const;

export type HttpErrorCode = (typeof HttpErrorCodes)[keyof typeof HttpErrorCodes] | `LETHE_E_${string}`;

export class HttpError extends Error {
  readonly status: number;
  readonly code: HttpErrorCode;
  readonly headers: Readonly<Record<string, string>>;
  constructor(status: number, code: HttpErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export const badRequest = (message: string, code: HttpErrorCode = HttpErrorCodes.BAD_REQUEST): HttpError => new HttpError(400, code, message);
export const notFound = (message = 'no such route'): HttpError => new HttpError(404, HttpErrorCodes.NOT_FOUND, message);

/**
 * An engine error as an HTTP answer, by the engine's one table (ERROR_ANSWERS via `errorBody`):
 * its status, code and message; `field` may rewrite the message's leading field name into the
 * request's own (`why:` -> `body.reason:`). Anything that is not a Lethe error is null: the error
 * handler answers it with a generic 500 and logs it.
 */
export function fromEngineError(error: unknown, field: (name: string) => string | undefined = () => undefined): HttpError | null {
  if (!isLetheError(error)) return null;
  const { status, body } = errorBody(error);
  const m = /^([\w.-]+): /.exec(body.error.message);
  const renamed = m ? field(m[1]!) : undefined;
  const message = m && renamed !== undefined ? `${renamed}: ${body.error.message.slice(m[0].length)}` : body.error.message;
  return new HttpError(status, body.error.code as HttpErrorCode, message);
}
