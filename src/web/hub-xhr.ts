// Hub tensor reads in a worker without shared memory (a page that is not cross-origin isolated, or a
// browser without SharedArrayBuffer): synchronous XMLHttpRequest range reads, which workers may make,
// a window at a time (the FileReaderSync path's counterpart for files on the Hub). Slower than the
// main thread's streamed ranges (a request per window), but it needs nothing of the page.

import { HubError } from '../errors.js';
import { accessText, type HubFile, type HubFiles } from '../hub/range-reader.js';
import { WindowSource } from '../stream/window-source.js';

/** A window per request: fewer, larger requests (each costs a round trip). */
const XHR_WINDOW_BYTES = 16 << 20;

export function xhrSource(h: HubFiles): WindowSource<HubFile> {
  const tries = (h.retries ?? 5) + 1;
  return new WindowSource(
    new Map(h.files.map((f) => [f.path, f])),
    (file, at, length) => {
      for (let attempt = 1; ; attempt++) {
        const xhr = new XMLHttpRequest();
        xhr.open('GET', file.url, false);
        xhr.responseType = 'arraybuffer';
        xhr.setRequestHeader('Range', `bytes=${at}-${at + length - 1}`);
        if (h.token) xhr.setRequestHeader('Authorization', `Bearer ${h.token}`);
        try {
          xhr.send();
        } catch {
          if (attempt < tries) continue; // a dropped connection: this window again, from its first byte
          throw new HubError({ file: file.path }, `the connection failed ${attempt} times in a row at byte ${at} of ${file.size}; try again later`);
        }
        if (xhr.status === 401 || xhr.status === 403) throw new HubError({ file: file.path }, accessText(xhr.status, h.token !== undefined));
        if (xhr.status === 404) throw new HubError({ file: file.path }, 'no such file in the repository at this revision (HTTP 404)');
        if ((xhr.status === 429 || xhr.status >= 500 || xhr.status === 0) && attempt < tries) continue;
        if (xhr.status !== 206 && !(xhr.status === 200 && at === 0)) throw new HubError({ file: file.path }, `HTTP ${xhr.status} for bytes ${at}-${at + length - 1}`);
        const bytes = new Uint8Array(xhr.response as ArrayBuffer, 0);
        if (bytes.length < length) throw new HubError({ file: file.path }, `${length} bytes at offset ${at}, found ${bytes.length}`);
        return bytes.subarray(0, length);
      }
    },
    XHR_WINDOW_BYTES,
  );
}
