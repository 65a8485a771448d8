// The reader worker a converting worker starts when the page is cross-origin isolated: it serves the
// converting worker's synchronous reads through shared memory (stream/shared-read.ts), of picked Files
// or of files on the Hugging Face Hub (hub/range-reader.ts).

import { fileReads, serveReads, type Channel } from '../stream/shared-read.js';
import { hubReads, type HubFiles } from '../hub/range-reader.js';

export type ReaderInit = { type: 'init'; channel: Channel; files: File[] } | { type: 'init'; channel: Channel; hub: HubFiles };

self.onmessage = (e: MessageEvent<{ type: 'ping' } | ReaderInit>) => {
  const m = e.data;
  (self as unknown as Worker).postMessage({ type: 'ready' });
  if (m.type === 'init') void serveReads(m.channel, 'hub' in m ? hubReads(m.hub) : fileReads(m.files));
};
