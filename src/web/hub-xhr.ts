// Hub tensor reads in a worker without shared memory (a page that is not cross-origin isolated, or a
// browser without SharedArrayBuffer): synchronous XMLHttpRequest range reads, which workers may make,
// a window at a time (the FileReaderSync path's counterpart for files on the Hub). Slower than the
// main thread's streamed ranges (a request per window), but it needs nothing of the page. Failures
// are retried as range-reader.ts retries them, and every response must carry the file's ETag.

import { HubError } from '../errors.js';
import { accessText, changedText, retryAfterMs, retryPause, type HubFile, type HubFiles } from '../hub/range-reader.js';
import { WindowSource } from '../stream/window-source.js';

/** A window per request: fewer, larger requests (each costs a round trip). */
const XHR_WINDOW_BYTES = 16 << 20;

/** A pause in a worker that reads synchronously: without shared memory there is no Atomics.wait, and the thread has nothing else to do. */
function pause(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until);
}

/** `onFetched`: the bytes of each response received (retried windows included). */
export function xhrSource(h: HubFiles, onFetched?: (bytes: number) => void): WindowSource<HubFile> {
  const retries = h.retries ?? 5;
  const etags = new Map<HubFile, string>();
  return new WindowSource(
    new Map(h.files.map((f) => [f.path, f])),
    (file, at, length) => {
      for (let failures = 0; ; ) {
        const xhr = new XMLHttpRequest();
        xhr.open('GET', file.url, false);
        xhr.responseType = 'arraybuffer';
        xhr.setRequestHeader('Range', `bytes=${at}-${at + length - 1}`);
        if (h.token) xhr.setRequestHeader('Authorization', `Bearer ${h.token}`);
        let why: string;
        let asked = 0;
        try {
          xhr.send();
          why = `HTTP ${xhr.status}`;
        } catch (e) {
          why = e instanceof Error ? e.message : String(e);
        }
        if (xhr.status === 429 || xhr.status >= 500 || xhr.status === 0) {
          // a dropped connection (status 0), a 5xx or a 429: this window again, from its first byte
          if (++failures > retries) throw new HubError({ file: file.path }, `the connection failed ${failures} time${failures === 1 ? '' : 's'} in a row at byte ${at} of ${file.size} (${why}); try again later`);
          if (xhr.status !== 0) asked = retryAfterMs({ get: (name) => xhr.getResponseHeader(name) });
          pause(retryPause(failures, h.retryMs ?? 250, asked));
          continue;
        }
        if (xhr.status === 401 || xhr.status === 403) throw new HubError({ file: file.path }, accessText(xhr.status, h.token !== undefined));
        if (xhr.status === 404) throw new HubError({ file: file.path }, 'no such file in the repository at this revision (HTTP 404)');
        if (xhr.status !== 206 && !(xhr.status === 200 && at === 0)) throw new HubError({ file: file.path }, `HTTP ${xhr.status} for bytes ${at}-${at + length - 1}`);
        const etag = xhr.getResponseHeader('etag');
        const known = file.etag ?? etags.get(file);
        if (etag && known && etag !== known) throw new HubError({ file: file.path }, changedText(known, etag));
        if (etag) etags.set(file, etag);
        const bytes = new Uint8Array(xhr.response as ArrayBuffer, 0);
        onFetched?.(bytes.length);
        if (bytes.length < length) throw new HubError({ file: file.path }, `${length} bytes at offset ${at}, found ${bytes.length}`);
        return bytes.subarray(0, length);
      }
    },
    XHR_WINDOW_BYTES,
  );
}
