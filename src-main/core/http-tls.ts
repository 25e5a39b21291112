import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { Agent, request } from 'node:https';
import { rootCertificates } from 'node:tls';
import { ConfigError } from './config/load.js';
import type { HttpFetch } from './ports.js';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Reads `serverCaFile`: one or more PEM certificates. Node ignores a CA it cannot parse without a word, which would
 * surface much later as "certificate not trusted"; so a file that is missing, empty or holds anything but valid
 * certificates stops the agent now, with a message that names the key.
 */
export function readCaBundle(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      'configuration',
      'serverCaFile',
      `cannot be read: ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const pems = text.match(PEM_CERTIFICATE) ?? [];
  if (pems.length === 0) throw new ConfigError('configuration', 'serverCaFile', `holds no PEM certificate: ${file}`);
  pems.forEach((pem, i) => {
    try {
      new X509Certificate(pem);
    } catch {
      throw new ConfigError('configuration', 'serverCaFile', `holds an invalid certificate (number ${i + 1}): ${file}`);
    }
  });
  return pems;
}

/**
 * The HttpFetch port over node:https, trusting the given CA certificates for the server's certificate. Node 20's
 * global fetch takes no CA option (only undici's own `dispatcher`, and undici is not a dependency), hence node:https.
 *
 * The CAs are trusted IN ADDITION to Node's public roots, not instead of them (the key's meaning: "extra" CAs, as
 * with NODE_EXTRA_CA_CERTS): an agent whose IT later moves the server behind a publicly issued certificate (a reverse
 * proxy) keeps working instead of being stranded, and what the server answers is trusted only when signed by a
 * pinned server key anyway; TLS guards the confidentiality of the request, which a public CA already vouches for.
 *
 * Only what ServerClient uses is supported: a string body, headers, the AbortSignal (which covers connecting, the
 * TLS handshake and reading the whole answer, so the reachability budget holds), status, headers and text.
 */
export function fetchTrustingCas(caPems: readonly string[]): HttpFetch {
  const agent = new Agent({ ca: [...rootCertificates, ...caPems], keepAlive: true });
  return (url, init) => (new URL(url).protocol === 'https:' ? httpsFetch(agent, url, init) : fetch(url, init)); // plain http: loopback only (schema)
}

function httpsFetch(agent: Agent, url: string, init: RequestInit): Promise<Response> {
  if (init.body !== undefined && init.body !== null && typeof init.body !== 'string')
    return Promise.reject(new TypeError('only string bodies are supported'));
  const signal = init.signal ?? undefined;
  return new Promise<Response>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const req = request(url, { method: init.method ?? 'GET', headers, agent });
    const onAbort = () => {
      req.destroy();
      reject(signal!.reason); // a TimeoutError from AbortSignal.timeout, as global fetch rejects
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => signal?.removeEventListener('abort', onAbort);
    req.on('error', (err) => {
      done();
      reject(err);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => {
        done();
        reject(err);
      });
      res.on('end', () => {
        done();
        const status = res.statusCode ?? 502;
        const responseHeaders = new Headers();
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2)
          responseHeaders.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
        const nullBody = status === 204 || status === 205 || status === 304;
        resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, headers: responseHeaders }));
      });
    });
    req.end(typeof init.body === 'string' ? init.body : undefined);
  });
}
