// A module worker of the browser conversion: plans a format's jobs and makes its small files (then
// ends: what that needed goes with it), or instantiates the kernels once, then runs tasks from the
// main thread: create a container, fill a job (tensors read through the main thread's shared windows or
// with FileReaderSync, bytes written with a synchronous OPFS handle, or where workers have none through
// the main thread's writable streams, streamed.ts), hash a file, write a small file. Errors come back as data.

import { instantiateKernels, type Kernels } from '../kernels/index.js';
import { serializeError } from '../errors.js';
import { formatById, type FormatOptions, type Job } from '../outputs/index.js';
import type { FormatPlan, SmallFile } from '../outputs/types.js';
import type { ModelPlan } from '../model/plan.js';
import { sideFromData, type SideData } from '../model/read-ahead.js';
import { ggufSideFiles } from '../outputs/side-files.js';
import { WeightStream } from '../stream/weights.js';
import { fileReaderSource } from './input.js';
import { sharedSource, type Channel } from '../stream/shared-read.js';
import type { TensorSource } from '../stream/ports.js';
import type { TernaryStats } from '../inspect/stats.js';
import type { HubFiles } from '../hub/range-reader.js';
import { xhrSource } from './hub-xhr.js';
import { HandleSink, createContainer, fileIn, hashFile, openSync, readBuffer, sharedModeKnown, stagingFolder, type SyncHandle } from './opfs.js';
import { RegionHandle, hashPieces, layOut, type Parts } from './parts.js';
import { Sha256, type Sha256State } from '../formats/sha256.js';
import { StreamedHandle, type WriteCommand } from './streamed.js';
import { moved } from './moved.js';

export type Task =
  /** `headFile`: a container written in parts (parts.ts) has its head written there, a file of its own. */
  | { type: 'create'; file: string; head: Uint8Array; bytes: number; headFile?: string }
  /** `part`: the job's regions go into this part file, not the container (parts.ts). */
  | { type: 'job'; job: Job; options: FormatOptions; part?: string }
  /**
   * Bytes [from, to) of a container into the hash `state` (a prefix, while other regions are being written);
   * without `to`, on to the end and the digest. `parts`: the container was written in parts (parts.ts).
   */
  | { type: 'hash'; file: string; from?: number; to?: number; state?: Sha256State; parts?: Parts }
  | { type: 'small'; file: string; bytes: Uint8Array };

export type ToWorker =
  /** `channel`: reads go through the main thread, which serves it (stream/shared-read.ts); none: FileReaderSync, or for a Hub input synchronous XMLHttpRequest. */
  /** `streamed`: no synchronous handles here; writes go to the main thread, this worker's control block in shared memory (streamed.ts). */
  | { type: 'init'; module: WebAssembly.Module; files: [string, File][]; run: string; channel?: Channel; hub?: HubFiles; streamed?: SharedArrayBuffer }
  | { type: 'task'; id: number; task: Task }
  | { type: 'ping' }
  | { type: 'probe' }
  /** Plans the format's jobs and makes its small files (a .gguf source, `gguf`: its vocabulary rebuilt as tokenizer files), on a worker that then ends. */
  | { type: 'plan'; format: string; model: ModelPlan; options: FormatOptions; side: SideData; gguf?: string };

export type FromWorker =
  /** To a probe: `writes`, how this worker can write, or `problem`; `noSync`: why not through synchronous handles. */
  /** `shared`: several synchronous handles open on one file at once (readwrite-unsafe). */
  /** `probeFiles`: the files the probe made, which the page removes once this worker has ended. */
  | { type: 'ready'; reads?: Reads; problem?: string; writes?: Writes; noSync?: string; shared?: boolean; probeFiles?: string[] }
  /** `hashed`: where a hash task with `to` left the hash. */
  | { type: 'done'; id: number; written?: { bytes: number; sha256: string }; stats?: [string, TernaryStats][]; hashed?: Sha256State }
  | { type: 'planned'; plan: FormatPlan; small: SmallFile[] }
  | { type: 'error'; id: number; error: ReturnType<typeof serializeError> }
  /** `fetched`: bytes this worker received from the Hub (its synchronous XMLHttpRequest reads). */
  | { type: 'progress'; bytes: number; tensors: number; started: number; fetched: number }
  | WriteCommand;

/** How tensor data is read: through shared memory served by the main thread, or with FileReaderSync (a Hub input: synchronous XMLHttpRequest). */
export type Reads = 'shared' | 'FileReaderSync' | 'XMLHttpRequest';
/** How output is written: synchronous OPFS handles in the workers, or writable streams on the main thread (streamed.ts). */
export type Writes = 'sync' | 'streams';

const post = (m: FromWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);

let kernels: Kernels;
let source: TensorSource;
let reads: Reads;
let dir: FileSystemDirectoryHandle;
let streamed: SharedArrayBuffer | undefined;

/**
 * Progress goes to the main thread at most every 100 ms (and at the end of each job). A tensor counts
 * as started at its first read, so that the count moves while the first (largest) tensors are read.
 */
const pending = { bytes: 0, tensors: 0, started: 0, fetched: 0, last: 0, open: false };
function progress(bytes: number, tensors: number, force = false, fetched = 0): void {
  pending.fetched += fetched;
  if (bytes && !pending.open) {
    pending.open = true;
    pending.started++;
  }
  if (tensors) pending.open = false;
  pending.bytes += bytes;
  pending.tensors += tensors;
  const now = performance.now();
  if (!force && now - pending.last < 100) return;
  if (pending.bytes || pending.tensors || pending.started || pending.fetched) post({ type: 'progress', bytes: pending.bytes, tensors: pending.tensors, started: pending.started, fetched: pending.fetched });
  pending.bytes = pending.tensors = pending.started = pending.fetched = 0;
  pending.last = now;
}

async function open(file: string, shared: boolean, create: boolean): Promise<SyncHandle> {
  const handle = await fileIn(dir, file, create);
  if (!streamed) return openSync(handle, shared);
  const post = (m: WriteCommand, transfer: Transferable[]) => (self as unknown as Worker).postMessage(m, transfer);
  return new StreamedHandle(streamed, file, post, create ? undefined : await handle.getFile());
}

async function withHandle<T>(file: string, shared: boolean, create: boolean, use: (h: SyncHandle) => T | Promise<T>): Promise<T> {
  const h = await open(file, shared, create);
  try {
    return await use(h);
  } finally {
    h.close();
  }
}

type Outcome = { written?: { bytes: number; sha256: string }; stats?: [string, TernaryStats][]; hashed?: Sha256State };

async function run(task: Task): Promise<Outcome> {
  if (task.type === 'hash') {
    // a prefix is read while other workers write later regions: a shared handle (the page asks only where
    // there are); written in parts, the files read are the head's and the parts', which no one else opens
    const partial = task.to !== undefined || task.state !== undefined;
    const hash = task.state ? Sha256.resume(task.state, kernels.sha256) : new Sha256(kernels.sha256);
    const { parts } = task;
    const written = await withHandle(parts?.head ?? task.file, partial && !parts, false, async (h) => {
      if (!parts) return hashFile(h, hash, task.from, task.to);
      const to = task.to ?? parts.size;
      await hashPieces(h, task.file, parts.pieces, (name) => open(name, false, false), hash, task.from ?? 0, to, readBuffer());
      return task.to === undefined ? { bytes: to, sha256: hash.hex() } : undefined;
    });
    return written ? { written } : { hashed: hash.save() };
  }
  if (task.type !== 'job') return { written: await small(task) };
  const { job, options, part } = task;
  const stats: [string, TernaryStats][] = [];
  // A job fills its own file (hashed as written) or regions of a container (hashed by hash tasks as its prefix is written).
  const inContainer = job.regions !== undefined;
  const written = await withHandle(part ?? job.file, inContainer && !part, !inContainer || part !== undefined, (file) => {
    const h = part ? new RegionHandle(file, layOut(job.regions!, part), job.file) : file;
    if (!inContainer) h.truncate(0);
    const sinks: HandleSink[] = [];
    const stream = new WeightStream({
      kernels,
      source,
      options,
      onBytesRead: (n) => progress(n, 0),
      onTensorDone: () => progress(0, 1),
      onStats: (name, st) => stats.push([name, st]),
    });
    formatById(job.format).write(job, stream, {
      sink(offset?: number) {
        const s = new HandleSink(h, job.file, offset ?? 0, offset === undefined, kernels.sha256);
        sinks.push(s);
        return s;
      },
    }, options);
    const w = sinks.map((s) => s.finish());
    h.flush();
    progress(0, 0, true);
    return inContainer ? undefined : w[0];
  });
  return { written, ...(options.stats && { stats }) };
}

async function small(task: Exclude<Task, { type: 'job' | 'hash' }>): Promise<{ bytes: number; sha256: string } | undefined> {
  switch (task.type) {
    case 'create':
      return withHandle(task.headFile ?? task.file, false, true, (h) => void createContainer(h, task.file, task.head, task.bytes, task.headFile !== undefined));
    case 'small':
      return withHandle(task.file, false, true, (h) => {
        h.truncate(0);
        const sink = new HandleSink(h, task.file, 0, true, kernels.sha256);
        sink.write(task.bytes);
        const w = sink.finish();
        h.flush();
        return w;
      });
  }
}

/**
 * How this worker can write OPFS files: through a synchronous handle (the fast way), else through the
 * main thread's writable streams, which needs shared memory to wait on (a cross-origin-isolated page), else
 * not at all (`problem`: why, in words).
 */
async function writeProbe(): Promise<{ writes?: Writes; problem?: string; noSync?: string; shared?: boolean; probeFiles: string[] }> {
  const name = `.probe-${Math.random().toString(36).slice(2)}`;
  const probeFiles = [name, `${name}-w`];
  const why = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));
  let root: FileSystemDirectoryHandle | undefined;
  let sync: string;
  try {
    root = await navigator.storage.getDirectory();
    const h = await openSync(await root.getFileHandle(name, { create: true }), false);
    h.write(new Uint8Array(1), { at: 0 });
    h.close();
    return { writes: 'sync', shared: sharedModeKnown(), probeFiles };
  } catch (e) {
    sync = why(e);
  }
  try {
    if (!root) return { problem: sync, probeFiles: [] };
    // a file of its own: WebKitGTK refuses every later handle on a file whose sync handle failed
    const w = await (await root.getFileHandle(`${name}-w`, { create: true })).createWritable();
    await w.write({ type: 'write', position: 0, data: new Uint8Array(1) });
    await w.close();
    if (typeof SharedArrayBuffer !== 'function' || !globalThis.crossOriginIsolated) {
      return { problem: `${sync}; writable streams work, but writing through them needs shared memory, which this page was not given (serve it cross-origin isolated: bitnet-converter serve)`, probeFiles };
    }
    return { writes: 'streams', noSync: sync, probeFiles };
  } catch (e) {
    return { problem: `${sync}; createWritable: ${why(e)}`, probeFiles };
  }
}

self.onmessage = async (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.type === 'ping') return post({ type: 'ready' }); // this module and its imports are loaded
  if (m.type === 'probe') return post({ type: 'ready', ...(await writeProbe()) });
  if (m.type === 'plan') {
    try {
      const format = formatById(m.format);
      const side = sideFromData(m.side);
      const plan = format.plan(m.model, m.options, side);
      // the plan reads a .gguf source's own vocabulary; the small files, its tokenizer files rebuilt
      const small = format.finish(m.model, m.options, m.gguf ? ggufSideFiles(side, m.gguf) : side);
      // moved, not copied: a GGUF head holds the vocabulary (~8 MB), a small file can be a 9 MB tokenizer.json, and this worker ends
      post({ type: 'planned', plan, small }, moved([...plan.containers.map((c) => c.head), ...small.map((f) => f.bytes)]));
    } catch (err) {
      post({ type: 'error', id: -1, error: serializeError(err) });
    }
    return;
  }
  if (m.type === 'init') {
    try {
      kernels = await instantiateKernels(m.module);
      reads = m.channel ? 'shared' : m.hub ? 'XMLHttpRequest' : 'FileReaderSync';
      source = m.channel
        ? m.hub
          ? sharedSource(m.channel, new Map(m.hub.files.map((f) => [f.path, f])), 'the Hub connection failed; try again')
          : sharedSource(m.channel, new Map(m.files))
        : m.hub
          ? xhrSource(m.hub, (n) => progress(0, 0, false, n))
          : fileReaderSource(new Map(m.files));
      dir = await stagingFolder(m.run);
      streamed = m.streamed;
      post({ type: 'ready', reads });
    } catch (err) {
      post({ type: 'error', id: -1, error: serializeError(err) });
    }
    return;
  }
  try {
    post({ type: 'done', id: m.id, ...(await run(m.task)) });
  } catch (err) {
    post({ type: 'error', id: m.id, error: serializeError(err) });
  }
};
