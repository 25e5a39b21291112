import http from 'node:http';

/**
 * A tiny JSON-over-HTTP client on node:http for the login storm. Unlike fetch it can bind the client side of the
 * connection to a chosen loopback address (`localAddress`): each simulated workstation speaks from an address of its
 * own, as 500 real machines would, so per-address limits (30 enrollments per hour and address) apply as they would
 * in the field and not to the benchmark as a whole.
 */
export interface JsonReply {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export interface JsonRequest {
  method: string;
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  localAddress?: string;
  agent?: http.Agent;
}

export function requestJson(r: JsonRequest): Promise<JsonReply> {
  const url = new URL(r.url);
  const payload = r.body === undefined ? undefined : Buffer.from(JSON.stringify(r.body));
  const headers: Record<string, string> = { ...r.headers };
  if (payload) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(payload.length);
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: r.method,
        headers,
        ...(r.localAddress ? { localAddress: r.localAddress } : {}),
        ...(r.agent ? { agent: r.agent } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            /* not JSON: keep the text for the error report */
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
