// The page's reads of a picked File through shared memory (src/stream/shared-read.ts), run on Node (its
// File, BYOB streams, Atomics.waitAsync): a worker thread reads tensors through sharedSource, blocked in
// Atomics.wait, while this thread serves them with fileReads, with one window and with two (the next
// filled while the last is used). Every read is compared with the bytes the File was made of: tensors
// one after another (the next starts where the last one's stream ends), reads spanning many windows,
// jumps back and forward, a read that stops inside a window's tensor, and a File shorter than its size.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { newChannel, serveReads, fileReads, stopServing, type Channel } from '../build/js/stream/shared-read.js';

const MODULE = new URL('../build/js/stream/shared-read.js', import.meta.url).href;
const SIZE = 3_000_000;

function pseudoRandom(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** [position, length, where the tensor ends]: the reads a weight stream makes, in this order. */
const READS: [number, number, number][] = [
  [0, 100, 100],
  [100, 300_000, 1_000_100], // a tensor read in two parts ...
  [100, 300_000, 1_000_100], // ... after going back to its start (the read ahead holds a later part)
  [300_100, 700_000, 1_000_100],
  [1_000_100, 700_000, 1_700_100], // starts where the last stream ended
  [50, 10, 60], // back
  [1_700_100, 1, 1_700_101],
  [1_700_101, 65_536, 1_765_637],
  [2_999_000, 1_000, 3_000_000],
  [1_765_637, 500_000, 2_265_637], // forward after a jump
  [1_765_637, 500_000, 2_265_637], // the same tensor again (a second pass)
  [2_265_637, 200_000, 2_999_999],
];

/** Reads `reads` in a worker thread through the channel; a failure comes back as its message. */
function readInWorker(channel: Channel, reads: [number, number, number][], size: number): Promise<Uint8Array[] | string> {
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    import(workerData.module).then(({ sharedSource }) => {
      const src = sharedSource(workerData.channel, new Map([['w.bin', { size: workerData.size }]]));
      const out = [];
      try {
        for (const [pos, len, end] of workerData.reads) {
          const dst = new Uint8Array(len);
          src.readExactly('w.bin', dst, pos, end);
          out.push(dst);
        }
        parentPort.postMessage(out);
      } catch (e) {
        parentPort.postMessage(e.message);
      }
    });`;
  const w = new Worker(code, { eval: true, workerData: { module: MODULE, channel, reads, size } });
  return new Promise((resolve, reject) => {
    w.once('message', (m) => void w.terminate().then(() => resolve(m)));
    w.once('error', reject);
  });
}

for (const windows of [1, 2] as const) {
  test(`${windows} window(s) of 256 KiB: every read equals the File's bytes`, async () => {
    const bytes = pseudoRandom(SIZE, 7);
    const channel = newChannel(256 << 10, windows);
    void serveReads(channel, fileReads([new File([bytes], 'w.bin')]));
    const got = await readInWorker(channel, READS, SIZE);
    stopServing(channel);
    assert.type(got, 'object', String(got));
    READS.forEach(([pos, len], i) => {
      const want = bytes.subarray(pos, pos + len);
      const g = (got as Uint8Array[])[i];
      assert.is(g.length, len);
      const first = g.findIndex((v, k) => v !== want[k]);
      assert.is(first, -1, `read ${i} (${len} bytes at ${pos}) differs at byte ${first}`);
    });
  });

  test(`${windows} window(s): a File shorter than its size fails the read that passes its end, with the counts`, async () => {
    const channel = newChannel(256 << 10, windows);
    void serveReads(channel, fileReads([new File([pseudoRandom(2_500_000, 9)], 'w.bin')]));
    const got = await readInWorker(channel, [[0, 1000, 1000], [2_400_000, 200_000, 2_600_000]], SIZE);
    stopServing(channel);
    assert.type(got, 'string');
    assert.match(got as string, /w\.bin: .*bytes could be read/);
  });
}

test.run();
