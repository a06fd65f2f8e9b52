import { hostname } from 'node:os';
import { request } from 'undici';
import { writeHeartbeat, type Queryable } from '@lethe/engine';
import { createHttpService, type HttpService, type HttpServiceOptions } from '@lethe/http';

export interface Running {
  readonly base: string;
  readonly service: HttpService;
  close(): Promise<void>;
}

/** Starts the real service on an ephemeral loopback port. */
export async function startService(options: HttpServiceOptions): Promise<Running> {
  const service = createHttpService(options);
  const { port } = await service.listen(0, '127.0.0.1');
  return { base: `http://127.0.0.1:${port}`, service, close: () => service.close() };
}

export interface CallOptions {
  readonly method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD' | 'PATCH';
  /** An object is sent as JSON; a string as is. */
  readonly body?: unknown;
  readonly token?: string;
  readonly actor?: string;
  readonly headers?: Record<string, string>;
}

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  /** Parsed JSON, or undefined when the body is not JSON. */
  readonly json: any;
}

export async function call(base: string, path: string, o: CallOptions = {}): Promise<Answer> {
  const { method, headers, body } = requestOf(o);
  const res = await request(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: parsed(text) };
}

/** The same call without a socket (fastify's inject): for tests that only need request and answer. */
export async function inject(service: HttpService, path: string, o: CallOptions = {}): Promise<Answer> {
  const { method, headers, body } = requestOf(o);
  const res = await service.inject({ method, url: path, headers, ...(body === undefined ? {} : { payload: body }) });
  const answerHeaders = Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, typeof v === 'number' ? String(v) : v]));
  return { status: res.statusCode, headers: answerHeaders, text: res.body, json: parsed(res.body) };
}

function requestOf(o: CallOptions): { method: NonNullable<CallOptions['method']>; headers: Record<string, string>; body: string | undefined } {
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
  if (o.actor !== undefined) headers['x-lethe-actor'] = o.actor;
  let body: string | undefined;
  if (o.body !== undefined) {
    body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
    headers['content-type'] ??= 'application/json';
  }
  return { method: o.method ?? (body === undefined ? 'GET' : 'POST'), headers, body };
}

function parsed(text: string): unknown {
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A live daemon's heartbeat: daily schedule, next run in `nextRunInMs`. */
export async function beat(db: Queryable, o: { nextRunInMs?: number; instanceId?: string; state?: 'running' | 'stopped' } = {}): Promise<void> {
  await writeHeartbeat(db, {
    instanceId: o.instanceId ?? 'test-daemon',
    host: hostname(),
    pid: process.pid,
    version: 'test',
    schedule: '0 2 * * *',
    timezone: 'UTC',
    periodMs: 86_400_000,
    nextRun: new Date(Date.now() + (o.nextRunInMs ?? 3_600_000)).toISOString(),
    state: o.state ?? 'running',
  });
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
