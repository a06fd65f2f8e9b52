import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * A loopback proxy in front of a real S3 server that fails DeleteObjects requests naming chosen
 * keys, on every attempt (so the adapter's retries run out and the keys end up failed):
 * - `status`: answer an S3 error document (503 SlowDown, 500 InternalError) without forwarding;
 * - `reset-before`: drop the client's connection without forwarding (the store never acted);
 * - `reset-after`: forward, let the store delete, then drop the connection instead of answering
 *   (the store acted, the answer was lost).
 * The SDK, its retries and its sockets run unmocked; only the wire misbehaves. It records which
 * object keys each faulted request carried, which is what the run must report as failed.
 */
export type WireFault =
  | { readonly kind: 'status'; readonly status: number; readonly code: string; readonly message: string }
  | { readonly kind: 'reset-before' }
  | { readonly kind: 'reset-after' };

export interface FaultedRequest {
  readonly fault: WireFault;
  /** Object keys (with the bucket prefix) in the request body. */
  readonly keys: readonly string[];
}

export interface S3FaultProxy {
  readonly endpoint: string;
  /** Object key -> the fault for any DeleteObjects request that names it. */
  readonly faults: Map<string, WireFault>;
  readonly faulted: FaultedRequest[];
  close(): Promise<void>;
}

const isDeleteObjects = (method: string, path: string): boolean => method === 'POST' && /[?&]delete(=|&|$)/.test(path);

function xmlUnescape(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp|#x?[0-9a-fA-F]+);/g, (_, e: string) =>
    e === 'lt'
      ? '<'
      : e === 'gt'
        ? '>'
        : e === 'quot'
          ? '"'
          : e === 'apos'
            ? "'"
            : e === 'amp'
              ? '&'
              : String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)),
  );
}

export async function startS3FaultProxy(target: string): Promise<S3FaultProxy> {
  const upstream = new URL(target);
  const faults = new Map<string, WireFault>();
  const faulted: FaultedRequest[] = [];
  const sockets = new Set<Socket>();

  const forward = (
    req: IncomingMessage,
    body: Buffer,
    onResponse: (status: number, headers: Record<string, string | string[] | undefined>, payload: Buffer) => void,
    onError: (e: Error) => void,
  ): void => {
    const out = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, 'content-length': String(body.length) } },
      (up) => {
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => onResponse(up.statusCode ?? 502, up.headers, Buffer.concat(chunks)));
        up.on('error', onError);
      },
    );
    out.on('error', onError);
    out.end(body);
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const keys = isDeleteObjects(method, path) ? [...body.toString('utf8').matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => xmlUnescape(m[1]!)) : [];
    const fault = keys.map((k) => faults.get(k)).find((f) => f !== undefined);
    if (fault) faulted.push({ fault, keys });
    if (fault?.kind === 'status') {
      const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${fault.code}</Code><Message>${fault.message}</Message><RequestId>lethe-fault-proxy</RequestId></Error>`;
      res.writeHead(fault.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
      res.end(xml);
      return;
    }
    if (fault?.kind === 'reset-before') {
      req.socket.resetAndDestroy();
      return;
    }
    forward(
      req,
      body,
      (status, headers, payload) => {
        if (fault?.kind === 'reset-after') {
          req.socket.resetAndDestroy();
          return;
        }
        const { connection: _c, 'keep-alive': _k, 'transfer-encoding': _t, ...rest } = headers;
        res.writeHead(status, { ...rest, 'content-length': String(payload.length) });
        res.end(payload);
      },
      (error) => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(String(error));
      },
    );
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    faults,
    faulted,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const s of sockets) s.destroy();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
