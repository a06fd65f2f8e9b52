import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the receiver got (the body parsed as JSON). */
export interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, any>;
  readonly status: number;
  readonly atMs: number;
}

export interface Receiver {
  readonly url: string;
  readonly received: Received[];
  /** The delivered ones (answered 2xx). */
  delivered(): Received[];
  /** Resolves once `n` requests were delivered (2xx), or rejects at the deadline. */
  waitForDelivered(n: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/**
 * A webhook receiver on loopback (the notification tests). `statuses` answers the requests in order (the
 * last one repeats); `hang` accepts requests and never answers (a receiver that is down but
 * still accepts connections, the worst case for a sender).
 */
export async function startReceiver(o: { statuses?: readonly number[]; hang?: boolean } = {}): Promise<Receiver> {
  const received: Received[] = [];
  const statuses = o.statuses ?? [200];
  const server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8').on('data', (d: string) => (text += d));
    req.on('end', () => {
      let body: Record<string, any> = {};
      try {
        body = JSON.parse(text) as Record<string, any>;
      } catch {
        body = { unparsable: text };
      }
      // A hanging receiver records the request (status 0) and never answers.
      const status = o.hang ? 0 : statuses[Math.min(received.length, statuses.length - 1)]!;
      received.push({ headers: req.headers, body, status, atMs: Date.now() });
      if (!o.hang) res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/lethe`;
  const delivered = (): Received[] => received.filter((r) => r.status >= 200 && r.status < 300);
  return {
    url,
    received,
    delivered,
    async waitForDelivered(n, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (delivered().length < n) {
        if (Date.now() > deadline)
          throw new Error(`timed out after ${timeoutMs} ms waiting for ${n} deliveries; got ${JSON.stringify(received.map((r) => [r.status, r.body.event]))}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return delivered();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
