import type { IncomingMessage } from 'node:http';
import { badRequest, HttpError, HttpErrorCodes } from './errors.js';

/** Past the limit, this much more is read and thrown away so the 413 reaches the client. */
const DRAIN_BYTES = 1024 * 1024;

export interface ReadJsonOptions {
  /**
   * Read the body as JSON whatever its content type. Only for the emergency routes (pause,
   * resume; runbook EMERGENCY-001): `curl -d '{"reason":"..."}'` sends
   * application/x-www-form-urlencoded, and a 415 there left Lethe running while curl exited 0.
   * Safe from cross-site forms because these routes need an `Authorization: Bearer` header, which
   * a browser never sends cross-origin without a preflight.
   */
  readonly anyContentType?: boolean;
}

/**
 * Reads a JSON object body. An empty body is `{}` (routes with optional fields); anything else
 * must be `application/json` (unless `anyContentType`), at most `limitBytes`, valid JSON, and an
 * object. Each mistake is a 4xx with a message that says what was expected.
 */
export async function readJsonObject(req: IncomingMessage, limitBytes: number, options: ReadJsonOptions = {}): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limitBytes) {
    drain(req);
    throw tooLarge(limitBytes);
  }
  const text = await readText(req, limitBytes);
  if (text.trim() === '') return {};
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json' && !options.anyContentType) {
    throw new HttpError(415, HttpErrorCodes.UNSUPPORTED_MEDIA_TYPE, `content-type: expected application/json, got ${JSON.stringify(type || 'none')}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const sent = type && type !== 'application/json' ? `; it was sent as ${type}, and is read as JSON whatever the content type` : '';
    throw badRequest(`body: malformed JSON (${(error as Error).message})${options.anyContentType ? `: expected a JSON object like {"reason": "..."}${sent}` : ''}`, HttpErrorCodes.BAD_JSON);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badRequest(`body: expected a JSON object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`);
  }
  return value as Record<string, unknown>;
}

function readText(req: IncomingMessage, limitBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limitBytes) {
        failed = true;
        req.off('data', onData);
        drain(req);
        reject(tooLarge(limitBytes));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => {
      if (failed) return;
      try {
        resolve(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks)));
      } catch {
        reject(badRequest('body: not valid UTF-8', HttpErrorCodes.BAD_JSON));
      }
    });
    req.once('error', (error) => {
      if (!failed) reject(error);
    });
  });
}

function drain(req: IncomingMessage): void {
  let drained = 0;
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_BYTES) req.destroy();
  });
  req.resume();
}

function tooLarge(limitBytes: number): HttpError {
  return new HttpError(413, HttpErrorCodes.BODY_TOO_LARGE, `body: larger than the limit of ${limitBytes} bytes`, { connection: 'close' });
}
