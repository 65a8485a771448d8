// Progress on stderr: a redrawn bar on a terminal, a plain line every few seconds otherwise.
// "GB read" counts both reads of a projection too large to hold in memory (the second mostly from page cache).

import type { Progress } from '../run/convert.js';

export interface ProgressOptions {
  quiet: boolean;
  stream?: NodeJS.WriteStream;
}

export function gb(bytes: number): string {
  return (bytes / 1e9).toFixed(2);
}

export function createProgress(o: ProgressOptions): { update(p: Progress): void; end(): void } {
  const stream = o.stream ?? process.stderr;
  const start = performance.now();
  let lastLine = 0;
  let drawn = false;
  if (o.quiet) return { update() {}, end() {} };
  return {
    update({ bytesRead: done, bytesTotal: total, tensorsDone, tensorsTotal, bytesFetched }) {
      const secs = (performance.now() - start) / 1000;
      const rate = secs > 0 ? done / secs : 0;
      const frac = total > 0 ? Math.min(1, done / total) : 1;
      const eta = rate > 0 ? (total - done) / rate : 0;
      const text =
        `${(frac * 100).toFixed(0).padStart(3)}% ${tensorsDone}/${tensorsTotal} tensors, ` +
        `${gb(done)}/${gb(total)} GB read${bytesFetched !== undefined ? ` (${gb(bytesFetched)} GB fetched from the Hub)` : ''}, ${gb(rate)} GB/s, ETA ${eta.toFixed(0)} s`;
      if (stream.isTTY) {
        const width = 30;
        const fill = Math.round(frac * width);
        stream.write(`\r[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${text}\x1b[K`);
        drawn = true;
      } else if (performance.now() - lastLine > 2000 || frac === 1) {
        stream.write(`progress: ${text}\n`);
        lastLine = performance.now();
      }
    },
    end() {
      if (drawn) stream.write('\n');
    },
  };
}
