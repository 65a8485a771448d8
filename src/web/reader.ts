// The reader worker a converting worker starts when the page is cross-origin isolated: it serves the
// converting worker's synchronous reads through shared memory (shared-read.ts).

import { serveReads, type Channel } from './shared-read.js';

self.onmessage = (e: MessageEvent<{ type: 'ping' } | { type: 'init'; channel: Channel; files: File[] }>) => {
  const m = e.data;
  (self as unknown as Worker).postMessage({ type: 'ready' });
  if (m.type === 'init') void serveReads(m.channel, m.files);
};
