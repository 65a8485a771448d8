// Tensor bytes of files on the Hugging Face Hub, read by HTTP range requests (docs/architecture.md 5).
// A read opens one request from its position to the end of the tensor being read and keeps it open:
// the stream's next reads go forward through the tensor and continue the same response, so a tensor
// costs one request and the bytes fetched are the bytes the conversion needs. A dropped connection is
// reopened at the byte where it broke (never from the start), a few times in a row at most; so is a
// 5xx or a 429, after the pause it asks for (Retry-After, RateLimit; bounded). Every response of a file must carry the
// ETag of the version read first (docs/architecture.md 5): a file that changed under the conversion
// is an error naming it, never a mix of two versions.

import { HubError } from '../errors.js';
import type { ServeRead } from '../stream/shared-read.js';

export interface HubFile {
  /** How messages name it (hf:ORG/NAME@REV/file). */
  path: string;
  /** The resolve URL, pinned to the commit the listing resolved. */
  url: string;
  size: number;
  /** The ETag of the version read ahead (repo.ts): every later response must carry it, on every thread. */
  etag?: string;
}

/** What a reader needs, plain data so that it crosses to a reader thread. */
export interface HubFiles {
  files: HubFile[];
  /** An access token, sent as a bearer token (never logged). */
  token?: string;
  /** Counts the bytes received in a BigInt64 cell of this buffer (progress: bytes fetched). */
  fetched?: { buffer: SharedArrayBuffer; cell: number };
  /** Failed attempts in a row before a read gives up (default 5), and the first pause between them in ms (default 250, doubled each time). */
  retries?: number;
  retryMs?: number;
}

interface Open {
  index: number;
  /** The next byte the response gives. */
  pos: number;
  /** Where the response ends. */
  end: number;
  reader: ReadableStreamDefaultReader<Uint8Array>;
  rest?: Uint8Array;
}

/** A failure worth trying again: the network, a 5xx or a 429 (`waitMs`: the pause its Retry-After asks). */
class Transient extends Error {
  constructor(message: string, readonly waitMs = 0) {
    super(message);
  }
}

/** The longest pause a server's asking is followed for: a longer one is cut to this (the attempts stay bounded). */
export const MAX_RETRY_AFTER_MS = 60_000;

/**
 * The pause a 429 or 5xx asks for, in ms (at most MAX_RETRY_AFTER_MS; 0 when it asks none): `Retry-After`
 * (seconds, or an HTTP date), or the `t=` (seconds until the quota resets) of a `RateLimit` header, the
 * IETF draft's form, which the Hub sends with its 429s (docs/architecture.md 5).
 */
export function retryAfterMs(headers: { get(name: string): string | null }, now = Date.now()): number {
  const after = headers.get('retry-after');
  let ms = 0;
  if (after !== null) ms = /^\s*\d+\s*$/.test(after) ? Number(after) * 1000 : Date.parse(after) - now;
  const reset = /(?:^|;)\s*t=(\d+)/.exec(headers.get('ratelimit') ?? '');
  if (reset) ms = Math.max(Number.isFinite(ms) ? ms : 0, Number(reset[1]) * 1000);
  return Number.isFinite(ms) ? Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms)) : 0;
}

/** The pause before attempt `failures + 1`: doubling from `first` ms (at most 8 s), or longer when the server asked. */
export function retryPause(failures: number, first: number, asked: number): number {
  return Math.max(asked, Math.min(8000, first * 2 ** (failures - 1)));
}

/** What a changed file is told as. */
export function changedText(first: string, now: string): string {
  return `changed on the Hub while it was read (ETag ${first}, then ${now}): nothing was written; convert again`;
}

export class RangeReader {
  private open?: Open;
  private readonly etags = new Map<number, string>();
  private readonly fetched?: BigInt64Array;

  constructor(
    private readonly h: HubFiles,
    private readonly fetchFn: typeof fetch = (...a) => fetch(...a),
  ) {
    if (h.fetched) this.fetched = new BigInt64Array(h.fetched.buffer);
  }

  /** Fills `into` with the bytes of file `index` from `at`; the response may run on to `end` for the next read. */
  async read(index: number, at: number, into: Uint8Array, end: number): Promise<void> {
    const file = this.h.files[index];
    const stop = Math.min(file.size, Math.max(end, at + into.length));
    let got = 0;
    let failures = 0;
    let last = '';
    while (got < into.length) {
      const pos = at + got;
      try {
        let o = this.open;
        if (!o || o.index !== index || o.pos !== pos) {
          await this.close();
          o = this.open = await this.request(index, pos, stop);
        }
        let chunk = o.rest;
        o.rest = undefined;
        if (!chunk) {
          const r = await o.reader.read().catch((e: unknown) => {
            throw new Transient(e instanceof Error ? `${e.message}${e.cause instanceof Error ? ` (${e.cause.message})` : ''}` : String(e));
          });
          if (r.done) {
            if (o.pos >= o.end) {
              this.open = undefined; // the response ended where it was asked to; the next one goes on
              continue;
            }
            throw new Transient(`the response ended at byte ${o.pos} of ${o.end}`);
          }
          chunk = r.value;
          if (this.fetched) Atomics.add(this.fetched, this.h.fetched!.cell, BigInt(chunk.length));
        }
        const n = Math.min(chunk.length, into.length - got);
        into.set(chunk.subarray(0, n), got);
        if (n < chunk.length) o.rest = chunk.subarray(n);
        o.pos += n;
        got += n;
        failures = 0;
      } catch (e) {
        if (!(e instanceof Transient)) throw e;
        await this.close();
        last = e.message;
        if (++failures > (this.h.retries ?? 5)) {
          throw new HubError({ file: file.path }, `the connection failed ${failures} time${failures === 1 ? '' : 's'} in a row at byte ${at + got} of ${file.size} (${last}); try again later`);
        }
        await new Promise((r) => setTimeout(r, retryPause(failures, this.h.retryMs ?? 250, e.waitMs)));
      }
    }
  }

  /** The ETag file `index` was read at, if it was read. */
  etagOf(index: number): string | undefined {
    return this.etags.get(index);
  }

  async close(): Promise<void> {
    const o = this.open;
    this.open = undefined;
    await o?.reader.cancel().catch(() => undefined);
  }

  private async request(index: number, pos: number, end: number): Promise<Open> {
    const file = this.h.files[index];
    let res: Response;
    try {
      res = await this.fetchFn(file.url, {
        headers: { range: `bytes=${pos}-${end - 1}`, ...(this.h.token ? { authorization: `Bearer ${this.h.token}` } : {}) },
      });
    } catch (e) {
      throw new Transient(e instanceof Error ? `${e.message}${e.cause instanceof Error ? ` (${e.cause.message})` : ''}` : String(e));
    }
    const fail = (why: string) => {
      void res.body?.cancel().catch(() => undefined);
      return new HubError({ file: file.path }, why);
    };
    if (res.status === 429 || res.status >= 500) {
      void res.body?.cancel().catch(() => undefined);
      throw new Transient(`HTTP ${res.status}`, retryAfterMs(res.headers));
    }
    if (res.status === 401 || res.status === 403) throw fail(accessText(res.status, this.h.token !== undefined));
    if (res.status === 404) throw fail('no such file in the repository at this revision (HTTP 404)');
    if (res.status === 416) throw fail(`the Hub serves fewer bytes than the ${file.size} it lists (HTTP 416 for bytes ${pos}-${end - 1})`);
    if (res.status === 200 && pos !== 0) throw fail('the server ignored the range request (HTTP 200 instead of 206)');
    if (res.status !== 200 && res.status !== 206) throw fail(`HTTP ${res.status} for bytes ${pos}-${end - 1}`);
    if (res.status === 206) {
      // a browser sees Content-Range only where the server exposes it to scripts (the Hub does)
      const header = res.headers.get('content-range');
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header ?? '');
      if (header !== null && (!range || Number(range[1]) !== pos || (range[3] !== '*' && Number(range[3]) !== file.size))) {
        throw fail(`bytes ${pos}-${end - 1} of ${file.size}, found Content-Range ${JSON.stringify(header)} (did the file change on the Hub?)`);
      }
      if (range) end = Number(range[2]) + 1;
    } else {
      end = file.size;
    }
    // every response of a file must be of the same version: the URL names a commit, the ETag says so too
    const etag = res.headers.get('etag');
    const known = file.etag ?? this.etags.get(index);
    if (etag && known && etag !== known) throw fail(changedText(known, etag));
    if (etag) this.etags.set(index, etag);
    if (!res.body) throw fail('a response body');
    return { index, pos, end, reader: res.body.getReader() };
  }
}

/** What a 401/403 means, with or without a token. */
export function accessText(status: number, withToken: boolean): string {
  return withToken
    ? `access refused (HTTP ${status}): the token does not give access to this repository (for a gated model, accept its conditions on its page with the account that made the token)`
    : `access refused (HTTP ${status}): the repository is gated or private; pass an access token (--hf-token, or the HF_TOKEN environment variable)`;
}

/** The reader thread's side of the shared channel (stream/shared-read.ts) for Hub files. */
export function hubReads(h: HubFiles): ServeRead {
  const reader = new RangeReader(h);
  return (file, at, end, into) => reader.read(file, at, into, end);
}
