// A one-shot worker thread: the module at `url` is started with `data`, computes one result and
// exits. Errors come back as data, so their class survives (the plan and inspect's statistics use it).

import { Worker, isMainThread, parentPort, workerData, type ResourceLimits } from 'node:worker_threads';
import { reviveError, serializeError, type SerializedError } from '../errors.js';

type Reply<T> = { ok: T } | { error: SerializedError };

/** Runs the module at `url` on a new thread with `data`; resolves with what its `answer` returned. */
export function inThread<T>(url: URL, data: { task: string }, what: string, resourceLimits?: ResourceLimits): Promise<T> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(url, { workerData: data, resourceLimits });
    worker.once('message', (reply: Reply<T>) => ('error' in reply ? reject(reviveError(reply.error)) : resolve(reply.ok)));
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`the ${what} thread exited with ${code}`)));
  });
}

/**
 * In a module started by inThread for `task`: computes the answer from the thread's data and posts it
 * (transferring the buffers `transfer` names). Does nothing on any other thread.
 */
export async function answer<D, T>(task: string, compute: (data: D) => T | Promise<T>, transfer: (result: T) => ArrayBuffer[] = () => []): Promise<void> {
  if (isMainThread || !parentPort || (workerData as { task?: string } | undefined)?.task !== task) return;
  let reply: Reply<T>;
  let buffers: ArrayBuffer[] = [];
  try {
    const ok = await compute(workerData as D);
    buffers = transfer(ok);
    reply = { ok };
  } catch (e) {
    reply = { error: serializeError(e) };
  }
  parentPort.postMessage(reply, buffers);
}
