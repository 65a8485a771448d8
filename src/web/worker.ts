// A module worker of the browser conversion: instantiates the kernels once, then runs tasks from the
// main thread: create a container, fill a job (tensors read with FileReaderSync, bytes written with a
// synchronous OPFS handle), hash a file, write a small file. Errors come back as data.

import { instantiateKernels, type Kernels } from '../kernels/index.js';
import { serializeError } from '../errors.js';
import { formatById, type FormatOptions, type Job } from '../outputs/index.js';
import { WeightStream } from '../stream/weights.js';
import { fileReaderSource } from './input.js';
import { READER, startWorker } from './pool.js';
import { newChannel, sharedSource, sharedReadsAvailable } from '../stream/shared-read.js';
import type { TensorSource } from '../stream/ports.js';
import type { HubFiles } from '../hub/range-reader.js';
import { xhrSource } from './hub-xhr.js';
import { HandleSink, createContainer, fileIn, hashFile, openSync, stagingFolder, type SyncHandle } from './opfs.js';

export type Task =
  | { type: 'create'; file: string; head: Uint8Array; bytes: number }
  | { type: 'job'; job: Job; options: FormatOptions }
  | { type: 'hash'; file: string }
  | { type: 'small'; file: string; bytes: Uint8Array };

export type ToWorker =
  | { type: 'init'; module: WebAssembly.Module; files: [string, File][]; run: string; hub?: HubFiles }
  | { type: 'task'; id: number; task: Task }
  | { type: 'ping' };

export type FromWorker =
  | { type: 'ready'; reads?: Reads }
  | { type: 'done'; id: number; written?: { bytes: number; sha256: string } }
  | { type: 'error'; id: number; error: ReturnType<typeof serializeError> }
  | { type: 'progress'; bytes: number; tensors: number };

/** How tensor data is read: through a reader worker and shared memory, or with FileReaderSync (a Hub input: synchronous XMLHttpRequest). */
export type Reads = 'shared' | 'FileReaderSync' | 'XMLHttpRequest';

/** Starts the reader worker of shared-read.ts and waits until it serves: picked Files, or a Hub input's ranges. */
async function startReader(files: [string, File][], hub?: HubFiles): Promise<TensorSource> {
  const channel = newChannel();
  if (hub) {
    await startWorker(READER, { type: 'init', channel, hub }, 'the reader worker').reply;
    return sharedSource(channel, new Map(hub.files.map((f) => [f.path, f])), 'the Hub connection failed; try again');
  }
  await startWorker(READER, { type: 'init', channel, files: files.map(([, f]) => f) }, 'the reader worker').reply;
  return sharedSource(channel, new Map(files));
}

const post = (m: FromWorker) => (self as unknown as Worker).postMessage(m);

let kernels: Kernels;
let source: TensorSource;
let reads: Reads;
let dir: FileSystemDirectoryHandle;

/** Progress goes to the main thread at most every 100 ms (and at the end of each job). */
const pending = { bytes: 0, tensors: 0, last: 0 };
function progress(bytes: number, tensors: number, force = false): void {
  pending.bytes += bytes;
  pending.tensors += tensors;
  const now = performance.now();
  if (!force && now - pending.last < 100) return;
  if (pending.bytes || pending.tensors) post({ type: 'progress', bytes: pending.bytes, tensors: pending.tensors });
  pending.bytes = pending.tensors = 0;
  pending.last = now;
}

async function withHandle<T>(file: string, shared: boolean, create: boolean, use: (h: SyncHandle) => T): Promise<T> {
  const h = await openSync(await fileIn(dir, file, create), shared);
  try {
    return use(h);
  } finally {
    h.close();
  }
}

async function run(task: Task): Promise<{ bytes: number; sha256: string } | undefined> {
  switch (task.type) {
    case 'create':
      return withHandle(task.file, false, true, (h) => void createContainer(h, task.file, task.head, task.bytes));
    case 'hash':
      return withHandle(task.file, false, false, hashFile);
    case 'small':
      return withHandle(task.file, false, true, (h) => {
        h.truncate(0);
        const sink = new HandleSink(h, task.file, 0, true);
        sink.write(task.bytes);
        const w = sink.finish();
        h.flush();
        return w;
      });
    case 'job': {
      const { job, options } = task;
      // A job fills its own file (hashed as written) or regions of a container (hashed after all jobs).
      const inContainer = job.regions !== undefined;
      return withHandle(job.file, inContainer, !inContainer, (h) => {
        if (!inContainer) h.truncate(0);
        const sinks: HandleSink[] = [];
        const stream = new WeightStream({
          kernels,
          source,
          options,
          onBytesRead: (n) => progress(n, 0),
          onTensorDone: () => progress(0, 1),
        });
        formatById(job.format).write(job, stream, {
          sink(offset?: number) {
            const s = new HandleSink(h, job.file, offset ?? 0, offset === undefined);
            sinks.push(s);
            return s;
          },
        }, options);
        const written = sinks.map((s) => s.finish());
        h.flush();
        progress(0, 0, true);
        return inContainer ? undefined : written[0];
      });
    }
  }
}

self.onmessage = async (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.type === 'ping') return post({ type: 'ready' }); // this module and its imports are loaded
  if (m.type === 'init') {
    try {
      kernels = await instantiateKernels(m.module);
      reads = sharedReadsAvailable() ? 'shared' : m.hub ? 'XMLHttpRequest' : 'FileReaderSync';
      source = reads === 'shared' ? await startReader(m.files, m.hub) : m.hub ? xhrSource(m.hub) : fileReaderSource(new Map(m.files));
      dir = await stagingFolder(m.run);
      post({ type: 'ready', reads });
    } catch (err) {
      post({ type: 'error', id: -1, error: serializeError(err) });
    }
    return;
  }
  try {
    post({ type: 'done', id: m.id, written: await run(m.task) });
  } catch (err) {
    post({ type: 'error', id: m.id, error: serializeError(err) });
  }
};
