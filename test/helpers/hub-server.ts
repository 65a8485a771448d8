// A local stand-in for the Hugging Face Hub, written from the Hub's documented HTTP behaviour and shared
// with no code of src/: model repositories served from folders on disk under the Hub's URL scheme.
//   GET /api/models/ORG/NAME/revision/REV   the model's info, with the commit `sha` the revision is at
//   GET /api/models/ORG/NAME/tree/REV       the top-level entries, a page at a time (Link: <...>; rel="next")
//   GET /ORG/NAME/resolve/REV/FILE          small files served directly; weights redirected (302) to a
//                                           content URL, as the Hub sends large files to its CDN
// Range requests (206 + Content-Range), ETag, CORS (with a preflight), X-Error-Code on errors
// (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo), 401/403 for a gated repository without
// the right token, and faults on demand: connections dropped mid-file, a file listed but missing, 5xx
// and 429 answers (with Retry-After), a file whose version (ETag) changes after some requests.
// It runs in a child process (startHubServer): a conversion with --threads 0 waits for its reads on the
// calling thread, which would stop a server in the same process.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { openSync, readSync, closeSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface HubRepoSpec {
  /** The folder whose top-level files the repository holds. */
  dir: string;
  /** Revisions (branches, tags) by name; `main` is always there. Each names a 40-hex commit. */
  revisions?: Record<string, string>;
  /** Gated: only this token reads it (401 without a token, 403 with another). */
  token?: string;
  /** Files listed but answered 404 on resolve (a broken upload). */
  missing?: string[];
}

export interface HubFaults {
  /** Drop the connection once while serving this file, right after this byte offset. */
  dropOnce?: { file: string; at: number };
  /** Drop the connection while serving this file right after each of these byte offsets, once each. */
  drops?: { file: string; at: number[] };
  /** Answer this file's content requests with `status` (and Retry-After, RateLimit when given) `times` times, after serving `after` of them (default 0). */
  fail?: { file: string; status: number; times: number; retryAfter?: string; rateLimit?: string; after?: number };
  /** Answer the next `times` API requests (model info, listing) with `status`. */
  apiFail?: { status: number; times: number; retryAfter?: string };
  /** Serve this file under another ETag (another version) after its first `requests` content requests. */
  changeAfter?: { file: string; requests: number };
}

/** What the server saw since the last reset. */
export interface HubStats {
  /** Bytes of file content sent, by "ORG/NAME/FILE". */
  sent: Record<string, number>;
  /** Content requests served (206/200), by "ORG/NAME/FILE". */
  requests: Record<string, number>;
  /** The Range header of every content request, failed ones included, by "ORG/NAME/FILE", in order. */
  ranges: Record<string, string[]>;
  /** When each content request came (ms since the reset), failed ones included, by "ORG/NAME/FILE". */
  times: Record<string, number[]>;
  /** The revision part of every resolve URL asked. */
  revisions: string[];
  /** Every Authorization header value seen (to check what a client sends). */
  authorizations: string[];
  /** Connections dropped on purpose, and answers failed on purpose. */
  drops: number;
  failures: number;
}

interface ServerState {
  url: string;
  server: Server;
  stats: HubStats;
  since: number;
  faults: HubFaults;
  close(): Promise<void>;
}

const noStats = (): HubStats => ({ sent: {}, requests: {}, ranges: {}, times: {}, revisions: [], authorizations: [], drops: 0, failures: 0 });

/** The server in its child process, as a test drives it. */
export interface HubServer {
  url: string;
  /** What the server saw since the last reset. */
  stats(): Promise<HubStats>;
  /** Sets the faults to inject and zeroes the counts. */
  reset(faults?: HubFaults): Promise<void>;
  close(): Promise<void>;
}

/** Starts the server in a child process (through tsx, as the tests run). */
export async function startHubServer(repos: Record<string, HubRepoSpec>): Promise<HubServer> {
  const child = fork(fileURLToPath(import.meta.url), [], { execArgv: ['--import', 'tsx'], env: { ...process.env, HUB_SERVER_CHILD: '1' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let waiting: ((m: unknown) => void)[] = [];
  child.on('message', (m) => waiting.shift()?.(m));
  const ask = <T>(m: unknown) => new Promise<T>((resolve) => {
    waiting.push(resolve as (m: unknown) => void);
    child.send(m as object);
  });
  const { url } = await ask<{ url: string }>({ cmd: 'start', repos });
  return {
    url,
    stats: () => ask({ cmd: 'stats' }),
    reset: (faults = {}) => ask({ cmd: 'reset', faults }),
    close: async () => {
      child.kill();
      waiting = [];
    },
  };
}

if (process.env.HUB_SERVER_CHILD === '1' && process.send) {
  let s: ServerState | undefined;
  process.on('message', async (m: { cmd: string; repos?: Record<string, HubRepoSpec>; faults?: HubFaults }) => {
    if (m.cmd === 'start') {
      s = await serveHub(m.repos!);
      process.send!({ url: s.url });
    } else if (m.cmd === 'stats') {
      process.send!(s!.stats);
    } else if (m.cmd === 'reset') {
      s!.stats = noStats();
      s!.since = Date.now();
      const f = m.faults ?? {};
      // copies: the server counts them down
      s!.faults = {
        ...(f.dropOnce && { drops: { file: f.dropOnce.file, at: [f.dropOnce.at] } }),
        ...(f.drops && { drops: { ...f.drops, at: [...f.drops.at] } }),
        ...(f.fail && { fail: { ...f.fail } }),
        ...(f.apiFail && { apiFail: { ...f.apiFail } }),
        ...(f.changeAfter && { changeAfter: { ...f.changeAfter } }),
      };
      process.send!({});
    }
  });
  process.on('disconnect', () => process.exit(0));
}

const PAGE = 3; // entries per listing page: the tests' repositories span several pages
const CORS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'Content-Range, Content-Length, ETag, Accept-Ranges, Link, X-Error-Code, X-Repo-Commit',
};

function sha1(s: string): string {
  return createHash('sha1').update(s).digest('hex');
}

async function serveHub(repos: Record<string, HubRepoSpec>): Promise<ServerState> {
  const state: ServerState = { url: '', server: undefined as unknown as Server, stats: noStats(), since: Date.now(), faults: {}, close: async () => {} };
  const add = (m: Record<string, number>, key: string, n: number) => (m[key] = (m[key] ?? 0) + n);
  const push = <T>(m: Record<string, T[]>, key: string, v: T) => (m[key] ??= []).push(v);
  const commits = new Map<string, Record<string, string>>();
  for (const [id, r] of Object.entries(repos)) commits.set(id, { main: sha1(`main:${id}`), ...r.revisions });
  const etags = new Map<string, string>();
  const etagOf = (path: string) => {
    let e = etags.get(path);
    if (!e) {
      const h = createHash('sha256');
      const fd = openSync(path, 'r');
      const buf = Buffer.alloc(1 << 20);
      for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
      closeSync(fd);
      etags.set(path, (e = `"${h.digest('hex')}"`));
    }
    return e;
  };

  const error = (res: ServerResponse, status: number, code: string | undefined, message: string, wait: { retryAfter?: string; rateLimit?: string } = {}) => {
    const asked = { ...(wait.retryAfter !== undefined && { 'retry-after': wait.retryAfter }), ...(wait.rateLimit !== undefined && { ratelimit: wait.rateLimit }) };
    res.writeHead(status, { ...CORS, 'content-type': 'application/json', ...(code && { 'x-error-code': code }), ...asked }).end(JSON.stringify({ error: message }));
  };

  /** The repository and commit a request may see, or an error sent. */
  const access = (req: IncomingMessage, res: ServerResponse, id: string, rev: string): { spec: HubRepoSpec; sha: string } | undefined => {
    const spec = repos[id];
    const auth = req.headers.authorization;
    if (!spec) {
      // as the Hub does: without credentials a missing repository is a 401, so that private ones do not show
      error(res, auth ? 404 : 401, 'RepoNotFound', 'Repository not found');
      return undefined;
    }
    if (spec.token !== undefined && auth !== `Bearer ${spec.token}`) {
      error(res, auth ? 403 : 401, 'GatedRepo', `Access to model ${id} is restricted. You must have access to it and be authenticated to access it. Please log in.`);
      return undefined;
    }
    const revs = commits.get(id)!;
    const sha = revs[rev === 'HEAD' ? 'main' : rev] ?? (Object.values(revs).includes(rev) ? rev : undefined);
    if (!sha) {
      error(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      return undefined;
    }
    return { spec, sha };
  };

  const files = (spec: HubRepoSpec) =>
    readdirSync(spec.dir)
      .sort()
      .map((name) => ({ name, st: statSync(join(spec.dir, name)) }));

  const serveFile = (req: IncomingMessage, res: ServerResponse, key: string, path: string) => {
    const { stats, faults } = state;
    const size = statSync(path).size;
    push(stats.ranges, key, req.headers.range ?? '');
    push(stats.times, key, Date.now() - state.since);
    const fail = faults.fail;
    if (fail && fail.times > 0 && key.endsWith(`/${fail.file}`) && (stats.requests[key] ?? 0) >= (fail.after ?? 0)) {
      fail.times--;
      stats.failures++;
      return error(res, fail.status, undefined, `failing on purpose (HTTP ${fail.status})`, fail);
    }
    const change = faults.changeAfter;
    const changed = change && key.endsWith(`/${change.file}`) && (stats.requests[key] ?? 0) >= change.requests;
    const etag = changed ? `"another-version-${etagOf(path).slice(1)}` : etagOf(path);
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = req.headers.range;
    if (range) {
      const m = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (!m || Number(m[1]) >= size) {
        res.writeHead(416, { ...CORS, 'content-range': `bytes */${size}` }).end();
        return;
      }
      start = Number(m[1]);
      end = m[2] === '' ? size - 1 : Math.min(size - 1, Number(m[2]));
      status = 206;
    }
    add(stats.requests, key, 1);
    res.writeHead(status, {
      ...CORS,
      'content-type': 'application/octet-stream',
      'content-length': end - start + 1,
      'accept-ranges': 'bytes',
      etag,
      ...(status === 206 && { 'content-range': `bytes ${start}-${end}/${size}` }),
    });
    if (req.method === 'HEAD') return void res.end();
    const drops = faults.drops && key.endsWith(`/${faults.drops.file}`) ? faults.drops.at : [];
    const drop = drops.find((at) => start <= at && at < end);
    const fd = openSync(path, 'r');
    let at = start;
    const pump = () => {
      while (at <= end) {
        const stop = drop !== undefined && at <= drop ? drop + 1 : end + 1;
        const n = Math.min(256 << 10, stop - at);
        if (n <= 0) break;
        const buf = Buffer.alloc(n);
        readSync(fd, buf, 0, n, at);
        at += n;
        add(stats.sent, key, n);
        if (drop !== undefined && at === drop + 1) {
          drops.splice(drops.indexOf(drop), 1); // once each
          stats.drops++;
          closeSync(fd);
          res.write(buf, () => res.socket?.destroy());
          return;
        }
        if (!res.write(buf)) return void res.once('drain', pump);
      }
      closeSync(fd);
      res.end();
    };
    res.on('close', () => {
      if (at <= end) at = end + 1; // the client went away: stop
    });
    pump();
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const parts = url.pathname.split('/').map(decodeURIComponent);
    if (req.headers.authorization !== undefined) state.stats.authorizations.push(req.headers.authorization);
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...CORS, 'access-control-allow-headers': 'Range, Authorization', 'access-control-allow-methods': 'GET, HEAD' }).end();
      return;
    }
    // /api/models/ORG/NAME/(revision|tree)/REV
    if (parts[1] === 'api' && parts[2] === 'models') {
      const fail = state.faults.apiFail;
      if (fail && fail.times > 0) {
        fail.times--;
        state.stats.failures++;
        return error(res, fail.status, undefined, `failing on purpose (HTTP ${fail.status})`, fail);
      }
      const id = `${parts[3]}/${parts[4]}`;
      const rev = parts.slice(6).join('/') || 'main';
      const ok = access(req, res, id, rev);
      if (!ok) return;
      if (parts[5] === 'revision') {
        res.writeHead(200, { ...CORS, 'content-type': 'application/json' }).end(JSON.stringify({ _id: sha1(id), id, sha: ok.sha, private: false, gated: ok.spec.token ? 'manual' : false, downloads: 0, likes: 0, tags: [] }));
        return;
      }
      if (parts[5] === 'tree') {
        const entries = files(ok.spec).map(({ name, st }) =>
          st.isDirectory()
            ? { type: 'directory', oid: sha1(name), size: 0, path: name }
            : { type: 'file', oid: sha1(name), size: st.size, path: name, ...(name.endsWith('.safetensors') && { lfs: { oid: sha1(`lfs:${name}`), size: st.size, pointerSize: 134 } }) },
        );
        const from = Number(url.searchParams.get('cursor') ?? 0);
        const page = entries.slice(from, from + PAGE);
        // an absolute link, as the Hub gives, on the origin the client asked (a proxy in front names it)
        const origin = req.headers['x-forwarded-host'] ? `${req.headers['x-forwarded-proto'] ?? 'https'}://${req.headers['x-forwarded-host']}` : state.url;
        const next = from + PAGE < entries.length ? new URL(url.pathname + url.search, origin) : undefined;
        next?.searchParams.set('cursor', String(from + PAGE));
        res.writeHead(200, { ...CORS, 'content-type': 'application/json', ...(next && { link: `<${next.href}>; rel="next"` }) }).end(JSON.stringify(page));
        return;
      }
      return error(res, 404, undefined, 'not found');
    }
    // /cdn/ORG/NAME/SHA/FILE: the content URL a weight is redirected to (no credentials needed, as a signed CDN URL)
    if (parts[1] === 'cdn') {
      const id = `${parts[2]}/${parts[3]}`;
      const spec = repos[id];
      const name = parts.slice(5).join('/');
      if (!spec) return error(res, 404, undefined, 'not found');
      return serveFile(req, res, `${id}/${name}`, join(spec.dir, name));
    }
    // /ORG/NAME/resolve/REV/FILE
    if (parts[3] === 'resolve') {
      const id = `${parts[1]}/${parts[2]}`;
      state.stats.revisions.push(parts[4]);
      const ok = access(req, res, id, parts[4]);
      if (!ok) return;
      const name = parts.slice(5).join('/');
      const entry = files(ok.spec).find((f) => f.name === name && f.st.isFile());
      if (!entry || ok.spec.missing?.includes(name)) return error(res, 404, 'EntryNotFound', `${name} does not exist on "${parts[4]}"`);
      if (name.endsWith('.safetensors')) {
        res.writeHead(302, { ...CORS, location: `/cdn/${id}/${ok.sha}/${encodeURIComponent(name)}`, 'x-repo-commit': ok.sha, 'x-linked-size': entry.st.size, 'x-linked-etag': etagOf(join(ok.spec.dir, name)) }).end();
        return;
      }
      return serveFile(req, res, `${id}/${name}`, join(ok.spec.dir, name));
    }
    error(res, 404, undefined, 'not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address() as { port: number };
  state.url = `http://127.0.0.1:${a.port}`;
  state.server = server;
  state.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return state;
}
