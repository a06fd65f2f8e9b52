import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * A loopback HTTP proxy in front of the S3 server: it records every request (method, path,
 * headers, the body's MD5, which client socket carried it) and can answer chosen requests with
 * an S3 error instead of forwarding them (503 SlowDown, 403 AccessDenied). This is the adapter's
 * real wire: the SDK, its middleware and the socket pool all run unmocked.
 */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly bodyMd5: string;
  readonly bodyBytes: number;
  /** Which client connection carried it (keep-alive reuse shows as repeated ids). */
  readonly socketId: number;
  /** `<Object>` entries in a DeleteObjects body (0 for other requests). */
  readonly objects: number;
  /** Whether the proxy answered it with an injected fault. */
  readonly injected: boolean;
}

export interface Fault {
  readonly match: (method: string, path: string) => boolean;
  readonly status: number;
  readonly code: string;
  readonly message: string;
  /** A whole response body instead of an `<Error>` document (e.g. a 200 DeleteResult with per-key errors). */
  readonly body?: (requestBody: string) => string;
  /** How many matching requests to answer with the fault; then it stops. */
  times: number;
}

export interface S3Proxy {
  readonly endpoint: string;
  readonly requests: RecordedRequest[];
  inject(fault: Fault): void;
  close(): Promise<void>;
}

export const isDeleteObjects = (method: string, path: string): boolean => method === 'POST' && /[?&]delete(=|&|$)/.test(path);
export const isGetVersioning = (method: string, path: string): boolean => method === 'GET' && /[?&]versioning(=|&|$)/.test(path);

export async function startS3Proxy(target: string): Promise<S3Proxy> {
  const upstream = new URL(target);
  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  const sockets = new Map<Socket, number>();
  let nextSocketId = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const method = req.method ?? 'GET';
      const path = req.url ?? '/';
      const fault = faults.find((f) => f.times > 0 && f.match(method, path));
      requests.push({
        method,
        path,
        headers: req.headers,
        bodyMd5: createHash('md5').update(body).digest('base64'),
        bodyBytes: body.length,
        socketId: sockets.get(req.socket) ?? -1,
        injected: fault !== undefined,
        objects: isDeleteObjects(method, path) ? body.toString('utf8').split('<Object>').length - 1 : 0,
      });
      if (fault) {
        fault.times -= 1;
        const xml = fault.body
          ? fault.body(body.toString('utf8'))
          : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${fault.code}</Code><Message>${fault.message}</Message><RequestId>lethe-proxy</RequestId></Error>`;
        res.writeHead(fault.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
        res.end(xml);
        return;
      }
      const forward = httpRequest(
        { host: upstream.hostname, port: upstream.port, method, path, headers: { ...req.headers, 'content-length': String(body.length) } },
        (up) => {
          // Hop-by-hop: the upstream closes each connection (moto speaks HTTP/1.0-style); the client side keeps its own.
          const { connection: _c, 'keep-alive': _k, ...headers } = up.headers;
          res.writeHead(up.statusCode ?? 502, headers);
          up.pipe(res);
        },
      );
      forward.on('error', (error) => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(String(error));
      });
      forward.end(body);
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.set(socket, nextSocketId++);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    inject: (fault) => faults.push(fault),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
