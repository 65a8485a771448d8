// Tensor reads of a Hub input on Node (docs/architecture.md 5): the converting threads read
// synchronously, fetch is asynchronous, so an asynchronous thread fetches the ranges and hands them
// over in a shared window (stream/shared-read.ts), the converting thread waiting with Atomics.wait.
// One reader thread serves every converting thread's channel: a reader thread per converting thread
// cost about 50 MiB each, and the main thread serving them was 20-25% slower on 2B-4T (docs/performance.md,
// "The Hub input on Node, again"). A conversion on the main thread (--threads 0) gets a reader thread of its own.
// One window per converting thread bounds the memory (HUB_WINDOW_BYTES, plus what one HTTP response buffers).

import { Worker, isMainThread, workerData } from 'node:worker_threads';
import { once } from 'node:events';
import { claimChannel, newChannel, serveReads, sharedSource, stopServing, type Channel } from '../stream/shared-read.js';
import { hubReads, type HubFiles } from '../hub/range-reader.js';
import type { TensorSource } from '../stream/ports.js';

/** The shared window of a converting thread: 1 MiB. It only stages a response's bytes: 8 MiB was no faster and cost 7 MiB more per thread (docs/performance.md, "The Hub input"). */
export const HUB_WINDOW_BYTES = 1 << 20;

/** A Hub input's reads as a job carries them: the files, the token, where to count bytes fetched, and a key naming the run. */
export interface HubReadSpec extends HubFiles {
  key: string;
  /** Channels the main thread serves (serveHub), one per worker thread; without them a reader thread is started. */
  channels?: Channel[];
}

/**
 * A small young generation for a reader thread: it makes a garbage chunk per 64 KiB received, which a
 * large one holds as resident memory.
 */
const READER_LIMITS = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 24 };

/** Serves `n` channels, one per converting thread, from a reader thread; `stop` ends it. */
export function serveHub(files: HubFiles, n: number): { channels: Channel[]; stop(): Promise<void> } {
  const channels = Array.from({ length: n }, () => newChannel(HUB_WINDOW_BYTES));
  const worker = new Worker(new URL(import.meta.url), { workerData: { hubReader: { channels, files } }, resourceLimits: READER_LIMITS });
  worker.unref(); // a thread that only answers reads must not keep the process alive
  return {
    channels,
    async stop() {
      // a read in flight ends with the thread (its converting thread is gone or done)
      for (const c of channels) stopServing(c);
      await worker.terminate();
    },
  };
}

const readers = new Map<string, { worker: Worker; source: Promise<TensorSource> }>();

const claimed = new Map<string, TensorSource>();

/** The calling thread's source for a Hub input: a channel the main thread serves, or its own reader thread started on first use. */
export function hubSource(spec: HubReadSpec): Promise<TensorSource> {
  if (spec.channels) {
    let source = claimed.get(spec.key);
    if (!source) {
      const channel = spec.channels.find(claimChannel);
      if (!channel) throw new Error('more threads read the Hub input than it has channels'); // a bug: serveHub serves one per thread
      source = sharedSource(channel, new Map(spec.files.map((f) => [f.path, f])), 'the Hub connection failed; try again');
      claimed.set(spec.key, source);
    }
    return Promise.resolve(source);
  }
  let r = readers.get(spec.key);
  if (!r) {
    const channel = newChannel(HUB_WINDOW_BYTES);
    const { key: _key, channels: _none, ...files } = spec;
    const worker = new Worker(new URL(import.meta.url), { workerData: { hubReader: { channels: [channel], files } }, resourceLimits: READER_LIMITS });
    worker.unref();
    const source = once(worker, 'message').then(() =>
      sharedSource(channel, new Map(spec.files.map((f) => [f.path, f])), 'the Hub connection failed; try again'),
    );
    r = { worker, source };
    readers.set(spec.key, r);
  }
  return r.source;
}

/** Stops the reader threads of a run (the calling thread's). */
export async function stopHubReaders(key: string): Promise<void> {
  const r = readers.get(key);
  readers.delete(key);
  await r?.worker.terminate();
}

const mine = !isMainThread && (workerData as { hubReader?: { channels: Channel[]; files: HubFiles } } | undefined)?.hubReader;
if (mine) {
  const { parentPort } = await import('node:worker_threads');
  // a pending Atomics.waitAsync does not keep a Node thread alive: a listener on the port does, until terminated
  parentPort!.on('message', () => undefined);
  parentPort!.postMessage('ready');
  // a reader per channel: each keeps its converting thread's response open (range-reader.ts)
  for (const channel of mine.channels) void serveReads(channel, hubReads(mine.files));
}
