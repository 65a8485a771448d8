// Module workers for the browser conversion: a fixed set started once, each given the kernel module and
// the input files; tasks go to whichever worker is free, in the order given (jobOrder's, pipeline/conversion.ts).

import { reviveError } from '../errors.js';
import type { FromWorker, Reads, Task, ToWorker } from './worker.js';
import { byobReads, fileReads, newChannel, serveReads, sharedReadsAvailable, stopServing, type Channel } from '../stream/shared-read.js';
import { hubReads } from '../hub/range-reader.js';
import { controlBytes, type StreamWriter } from './streamed.js';
import type { TernaryStats } from '../inspect/stats.js';
import type { Sha256State } from '../formats/sha256.js';

/** A converting worker's two shared windows: 2 MiB each, one read ahead while it works on the other (8 MiB each: 34 MiB more renderer memory on 2B-4T, no faster; docs/performance.md, "The page"). */
const PAGE_WINDOW_BYTES = 2 << 20;

/** What a task gave back: a file's size and sha256 (its own file, a hash, a small file), a job's statistics (options.stats). */
type Written = { written?: { bytes: number; sha256: string }; stats?: [string, TernaryStats][]; hashed?: Sha256State };

/** Starts a module worker and posts `message`; `reply` is its first answer (rejected if it fails to load). */
export function startWorker<R>(script: URL, message: unknown, what: string, transfer: Transferable[] = []): { worker: Worker; reply: Promise<R> } {
  const worker = new Worker(script, { type: 'module' });
  const reply = new Promise<R>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<R>) => resolve(e.data);
    worker.onerror = (e) => reject(new Error(`${what} failed to start: ${e.message || 'unknown error'}`));
  });
  worker.postMessage(message, transfer);
  return { worker, reply };
}

export const WORKER = new URL('./worker.js', import.meta.url);

export class WebPool {
  /** The conversion workers, and the channels this thread serves their reads on. */
  private readonly workers: Worker[] = [];
  private readonly channels: Channel[] = [];
  private readonly idle: Worker[] = [];
  private readonly waiting: (() => void)[] = [];
  private readonly calls = new Map<number, { resolve: (w: Written) => void; reject: (e: Error) => void }>();
  private next = 0;
  private failed?: Error;
  /** Each worker's control block, where the workers write through `writer` (streamed.ts). */
  private readonly controls = new Map<Worker, SharedArrayBuffer>();
  /** How the workers read tensor data (they all run in the same page, so they agree). */
  reads: Reads = 'FileReaderSync';
  /** A Hub input: bytes received by this thread's range reads (a BigInt64 cell the reader counts in), and by the workers' XMLHttpRequests. */
  private readonly fetchedHere = { buffer: new (typeof SharedArrayBuffer === 'function' ? SharedArrayBuffer : ArrayBuffer)(8) as SharedArrayBuffer, cell: 0 };
  private fetchedThere = 0;

  private constructor(
    private readonly onProgress: (bytes: number, tensors: number, started: number) => void,
    private readonly writer?: StreamWriter,
  ) {}

  /** Bytes received from the Hub so far (a Hub input). */
  fetched(): number {
    return Number(new BigInt64Array(this.fetchedHere.buffer)[0]) + this.fetchedThere;
  }

  /** `writer`: the workers have no synchronous OPFS handles and write through this (streamed.ts). */
  static async start(
    n: number,
    init: Omit<Extract<ToWorker, { type: 'init' }>, 'type' | 'channel' | 'streamed'>,
    onProgress: (bytes: number, tensors: number, started: number) => void,
    writer?: StreamWriter,
  ): Promise<WebPool> {
    const pool = new WebPool(onProgress, writer);
    // picked Files are read with BYOB readers; a Hub input's ranges with fetch
    const shared = sharedReadsAvailable() && (init.hub !== undefined || byobReads());
    await Promise.all(
      Array.from({ length: n }, async () => {
        // The page's own thread serves each worker's reads (it is idle while they run): a reader worker per
        // converting worker cost about 20 MiB of renderer memory on 2B-4T, for the same CPU time
        let channel: Channel | undefined;
        if (shared) {
          channel = newChannel(PAGE_WINDOW_BYTES, 2);
          pool.channels.push(channel);
          void serveReads(channel, init.hub ? hubReads({ ...init.hub, fetched: pool.fetchedHere }) : fileReads(init.files.map(([, f]) => f)));
        }
        const streamed = writer ? new SharedArrayBuffer(controlBytes()) : undefined;
        const started = startWorker<FromWorker>(WORKER, { type: 'init', ...init, channel, streamed } satisfies ToWorker, 'a conversion worker');
        const w = started.worker;
        if (streamed) pool.controls.set(w, streamed);
        pool.workers.push(w); // before waiting: a failure elsewhere stops it too
        const reply = await started.reply;
        if (reply.type === 'error') throw reviveError(reply.error);
        if (reply.type === 'ready' && reply.reads) pool.reads = reply.reads;
        w.onmessage = (ev: MessageEvent<FromWorker>) => pool.receive(w, ev.data);
        pool.idle.push(w);
      }),
    ).catch((e) => {
      pool.stop();
      throw e;
    });
    return pool;
  }

  private receive(w: Worker, m: FromWorker): void {
    if (m.type === 'progress') {
      this.fetchedThere += m.fetched;
      return this.onProgress(m.bytes, m.tensors, m.started);
    }
    if (m.type === 'ready' || m.type === 'planned') return; // answers to a started worker (startWorker), not to a task
    if (m.type === 'write' || m.type === 'truncate') return this.writer!.apply(m, this.controls.get(w)!);
    const call = this.calls.get(m.id)!;
    this.calls.delete(m.id);
    this.idle.push(w);
    this.waiting.shift()?.();
    if (m.type === 'done') call.resolve({ written: m.written, stats: m.stats, hashed: m.hashed });
    else call.reject(reviveError(m.error));
  }

  /** Runs one task on the next free worker (`first`: before the tasks already waiting). */
  async run(task: Task, transfer: Transferable[] = [], first = false): Promise<Written> {
    while (!this.idle.length && !this.failed) await new Promise<void>((r) => (first ? this.waiting.unshift(r) : this.waiting.push(r)));
    if (this.failed) throw this.failed;
    const w = this.idle.pop()!;
    const id = this.next++;
    return new Promise<Written>((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      w.postMessage({ type: 'task', id, task } satisfies ToWorker, transfer);
    });
  }

  /** Runs every task; the first failure stops the rest from starting and is thrown. */
  async all(tasks: Task[], onDone?: (i: number) => void): Promise<Written[]> {
    return Promise.all(
      tasks.map((t, i) =>
        this.run(t).then(
          (w) => (onDone?.(i), w),
          (e: Error) => {
            this.failed ??= e;
            throw e;
          },
        ),
      ),
    );
  }

  /** Terminates the workers; calls in flight reject with `why`. */
  stop(why: Error = new Error('the conversion was stopped')): void {
    this.failed ??= why;
    for (const w of this.workers) w.terminate();
    for (const c of this.channels) stopServing(c);
    for (const c of this.calls.values()) c.reject(why);
    this.calls.clear();
    for (const wake of this.waiting.splice(0)) wake();
  }
}
