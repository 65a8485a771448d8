// Tensor reads of a Hub input on Node (docs/architecture.md 5): the converting threads read
// synchronously, fetch is asynchronous, so each converting thread gets a reader thread
// (worker_threads) that fetches ranges and hands them over in a shared window (stream/shared-read.ts),
// the converting thread waiting with Atomics.wait. One window per converting thread bounds the memory
// (HUB_WINDOW_BYTES, plus what one HTTP response buffers).

import { Worker, isMainThread, workerData } from 'node:worker_threads';
import { once } from 'node:events';
import { newChannel, serveReads, sharedSource, type Channel } from '../stream/shared-read.js';
import { hubReads, type HubFiles } from '../hub/range-reader.js';
import type { TensorSource } from '../stream/ports.js';

/** The shared window of a converting thread: 8 MiB (2 threads: 16 MiB), two chunks of the default 4 MiB. */
export const HUB_WINDOW_BYTES = 8 << 20;

/** A Hub input's reads as a job carries them: the files, the token, where to count bytes fetched, and a key naming the run. */
export interface HubReadSpec extends HubFiles {
  key: string;
}

const readers = new Map<string, { worker: Worker; source: Promise<TensorSource> }>();

/** The calling thread's source for a Hub input, its reader thread started on first use. */
export function hubSource(spec: HubReadSpec): Promise<TensorSource> {
  let r = readers.get(spec.key);
  if (!r) {
    const channel = newChannel(HUB_WINDOW_BYTES);
    const { key: _key, ...files } = spec;
    const worker = new Worker(new URL(import.meta.url), { workerData: { hubReader: { channel, files } } });
    worker.unref(); // a thread that only answers reads must not keep the process alive
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

const mine = !isMainThread && (workerData as { hubReader?: { channel: Channel; files: HubFiles } } | undefined)?.hubReader;
if (mine) {
  const { parentPort } = await import('node:worker_threads');
  // a pending Atomics.waitAsync does not keep a Node thread alive: a listener on the port does, until terminated
  parentPort!.on('message', () => undefined);
  parentPort!.postMessage('ready');
  void serveReads(mine.channel, hubReads(mine.files));
}
