// `bitnet-converter serve`: the browser page and the files it loads (the package's build/ folder) over
// http on 127.0.0.1. A static server only: the conversion runs in the browser, nothing is uploaded.

import { createServer, type Server } from 'node:http';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import { HUB_META } from '../hub/repo.js';

/** The package's build/ folder (this file is build/js/cli/serve.js). */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const PAGE = '/js/web/page/index.html';

/**
 * Cross-origin isolation: the page gets SharedArrayBuffer, so its workers read the input through shared
 * windows its main thread fills (stream/shared-read.ts) instead of FileReaderSync. A host without these
 * headers still works, with FileReaderSync.
 */
const ISOLATION = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
};

/**
 * The page for another Hub address (a mirror, HF_ENDPOINT): its Content-Security-Policy lets it connect
 * to that origin too (the page's own allows only huggingface.co), and a meta element tells it the address.
 */
export function pageForEndpoint(html: string, endpoint: string): string {
  let origin: string;
  try {
    const u = new URL(endpoint);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error(u.protocol);
    origin = u.origin;
  } catch {
    throw new UsageError(`--hf-endpoint: expected an http(s) address such as https://huggingface.co, found ${JSON.stringify(endpoint)}`);
  }
  const csp = "connect-src 'self' blob:";
  if (!html.includes(csp)) throw new Error(`the page's Content-Security-Policy has no "${csp}"`);
  const attr = (v: string) => v.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;');
  return html
    .replace(csp, `${csp} ${origin}`)
    .replace('<meta http-equiv="Content-Security-Policy"', `<meta name="${HUB_META}" content="${attr(endpoint.replace(/\/+$/, ''))}">\n<meta http-equiv="Content-Security-Policy"`);
}

/**
 * `isolate: false` leaves out the isolation headers (as a plain static host would): the FileReaderSync
 * path. `hubEndpoint`: the page reads models from that Hub address instead of huggingface.co.
 */
export function servePage(port: number, host: string, o: { isolate?: boolean; hubEndpoint?: string } = {}): Promise<{ server: Server; url: string }> {
  const isolation = o.isolate === false ? {} : ISOLATION;
  const page = o.hubEndpoint === undefined ? undefined : Buffer.from(pageForEndpoint(readFileSync(join(ROOT, PAGE), 'utf8'), o.hubEndpoint));
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path === '/') {
      res.writeHead(302, { location: PAGE }).end();
      return;
    }
    if (page && path === PAGE && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { 'content-type': TYPES['.html'], 'content-length': page.length, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff', ...isolation });
      res.end(req.method === 'HEAD' ? undefined : page);
      return;
    }
    const file = normalize(join(ROOT, path));
    const type = TYPES[extname(file)];
    let size = -1;
    try {
      const st = statSync(file);
      if (st.isFile()) size = st.size;
    } catch {
      // not found below
    }
    if (!file.startsWith(ROOT.endsWith(sep) ? ROOT : ROOT + sep) || !type || size < 0 || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': type, 'content-length': size, 'cache-control': 'max-age=86400', // the page works offline once loaded (the package's files do not change while served)
       'x-content-type-options': 'nosniff', ...isolation });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address();
      const actual = typeof a === 'object' && a ? a.port : port;
      resolve({ server, url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}/` });
    });
  });
}
