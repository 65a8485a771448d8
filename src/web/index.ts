// The browser (and worker-capable runtime) API: convertFiles(files, options) converts a model folder
// given as File objects, with the same formats, options and bytes as the CLI. Work runs in module
// workers; outputs are written to the origin private file system (OPFS) as they are produced, so a
// multi-GB model never sits in memory, then delivered where the caller asked.

import { OutputError, reviveError } from '../errors.js';
import { bindingsUrl, compileKernels, kernelWasmUrl } from '../kernels/index.js';
import { openCheckpointFolder } from '../model/checkpoint.js';
import { ggufSideFiles } from '../outputs/side-files.js';
import { checkThreads, planOrder, runConversion, type ConversionHost, type HostInput, type ConversionOptions, type ConversionResult, type JobOutcome, type OutputFile } from '../pipeline/conversion.js';
import type { FormatOptions, FormatPlan, SmallFile } from '../outputs/types.js';
import type { AnyFormat } from '../outputs/index.js';
import type { ModelPlan } from '../model/plan.js';
import type { SideData } from '../model/read-ahead.js';
import { fileSet, readAhead } from './input.js';
import { zipStream } from '../formats/zip.js';
import { fileIn, lockRun, removeRun, RUNS, stagingFolder, storageError } from './opfs.js';
import { hubDir, hubModelName, openHubInput, parseHubRef, type HubOptions } from '../hub/repo.js';
import type { HubFiles } from '../hub/range-reader.js';
import type { CheckpointFolder } from '../model/checkpoint.js';
import type { InputFolder } from '../outputs/types.js';
export { removeLeftovers } from './opfs.js';
export { configModelName, fileSet, type FileSet } from './input.js';
import { startWorker, WebPool, WORKER } from './pool.js';
import { moved } from './moved.js';
import type { FromWorker, Reads, Task, ToWorker, Writes } from './worker.js';
import { StreamWriter } from './streamed.js';
import type { TernaryStats } from '../inspect/stats.js';
import type { Sha256State } from '../formats/sha256.js';
import { PrefixFollower } from '../pipeline/written-prefix.js';
import { headName, joined, layOut, partName, piecesIn, type Parts } from './parts.js';

export { FORMATS, FORMAT_IDS, formatById, optionFlag } from '../outputs/index.js';
export { LAYOUTS } from '../layouts/index.js';
export { ENGINES, ENGINE_IDS, engineById, mainFile, runCommand, type Engine } from '../outputs/engines.js';
export { DEFAULTS } from '../defaults.js';
export type { ConversionOptions, OutputFile, Progress } from '../pipeline/conversion.js';
export { simdSupported } from '../kernels/index.js';
export type { HubOptions } from '../hub/repo.js';

/**
 * Where the output goes:
 * - `opfs` (default): stays in the origin private file system; `outputs` are disk-backed Files and
 *   `remove()` deletes them.
 * - `directory`: copied, streaming, into a new subfolder `outputName` of a folder the user picked
 *   (showDirectoryPicker); an existing subfolder is replaced only with `force`, after the conversion.
 * - `blobs`: read into memory as Blobs (for small outputs); nothing is left in OPFS.
 */
export type WebOutput = { kind: 'opfs' } | { kind: 'directory'; handle: FileSystemDirectoryHandle } | { kind: 'blobs' };

export interface WebConvertOptions extends ConversionOptions {
  /** Module workers (default: navigator.hardwareConcurrency, at most 2 where they write through the main thread's streams, at most one per job). */
  threads?: number;
  output?: WebOutput;
  /** The output folder's name (default "<input folder>-<format>"). */
  outputName?: string;
  /** Replace an existing output folder of that name in the picked directory. */
  force?: boolean;
  /** The input folder's name, when the files do not come from a picked folder. */
  folderName?: string;
  /**
   * Cancels the run: the workers are stopped, the run's OPFS folder removed, and convertFiles rejects
   * with an Error named 'AbortError'. Nothing is delivered once it fires.
   */
  signal?: AbortSignal;
}

/** The rejection of a cancelled run (the name DOM APIs give theirs). */
function cancelled(): Error {
  return Object.assign(new Error('the conversion was cancelled'), { name: 'AbortError' });
}

/** `work`, or the cancel error as soon as `signal` aborts (`work` then goes on unheard). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const stop = () => reject(cancelled());
    if (signal.aborted) return stop();
    signal.addEventListener('abort', stop, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop));
  });
}

/** The shared sequence's result (ConversionResult) as the page and callers see it. */
export interface WebConvertResult extends Omit<ConversionResult<unknown>, 'delivered' | 'stats'> {
  /** With options.stats: inspect's summary of the ternary weights written (every tensor's values counted). */
  ternary?: TernarySummary;
  outputName: string;
  /** The files themselves (disk-backed for `opfs`: a container written in parts is a File of them; in memory for `blobs`, absent for `directory`). */
  outputs: { name: string; blob: Blob }[];
  /** Deletes the OPFS copy (`opfs` output), and the zip of it if one was made. */
  remove: () => Promise<void>;
  /**
   * The whole output as one .zip (STORE, docs/zip.md), streamed into the run's OPFS folder (disk-backed;
   * in memory where the browser cannot write a file stream there), named "<outputName>.zip". Made once.
   */
  zip: () => Promise<File>;
  /** How the workers read the input: through shared memory, served by the page's thread (a cross-origin-isolated page), or FileReaderSync. */
  reads: Reads;
  /** How the output was written: the workers' synchronous OPFS handles, or writable streams (WebKitGTK, whose workers have none). */
  writes: Writes;
}

/** The shares of -1, 0 and +1 over every ternary weight, and the number of layers. */
export interface TernarySummary {
  layers: number;
  tensors: number;
  values: number;
  minus: number;
  zero: number;
  plus: number;
}

function ternarySummary(layers: number, stats: Map<string, TernaryStats>): TernarySummary {
  let values = 0;
  const sum = { minus: 0, zero: 0, plus: 0 };
  for (const s of stats.values()) {
    const n = s.rows * s.cols;
    values += n;
    sum.minus += s.fractions.minus * n;
    sum.zero += s.fractions.zero * n;
    sum.plus += s.fractions.plus * n;
  }
  const share = (x: number) => (values ? x / values : 0);
  return { layers, tensors: stats.size, values, minus: share(sum.minus), zero: share(sum.zero), plus: share(sum.plus) };
}

function defaultThreads(): number {
  return (globalThis.navigator?.hardwareConcurrency as number | undefined) ?? 2;
}

/** Converts a model folder given as File objects (a picked or dropped folder). */
export async function convertFiles(files: Iterable<File>, o: WebConvertOptions = {}): Promise<WebConvertResult> {
  const set = fileSet(files, o.folderName);
  return convertInput(
    set.dir,
    async () => {
      const { folder, side, sideData } = await readAhead(set);
      return { folder, side, sideData, files: [...set.files].map(([name, f]) => [folder.path(name), f] as [string, File]) };
    },
    o,
  );
}

/**
 * Converts a model on the Hugging Face Hub, `ORG/NAME` (or `hf:ORG/NAME`, or its page's address) at `revision` (default: its
 * default branch; a .gguf in it: `ORG/NAME/FILE.gguf`), reading only the bytes the conversion needs by range requests; nothing is stored
 * but the output. `hub`: an access token for a gated or private model, another endpoint. The model's
 * name (outputs, manifest) is NAME, as a downloaded folder of it is usually named.
 */
export async function convertHub(repo: string, revision: string | undefined, o: WebConvertOptions & { hub?: HubOptions } = {}): Promise<WebConvertResult> {
  // as typed or pasted: ORG/NAME, hf:ORG/NAME, or the model page's address; a .gguf in it as ORG/NAME/FILE.gguf or its page's address (ORG/NAME/blob/REV/FILE.gguf)
  const id = repo.trim().replace(/^(hf:|https?:\/\/(www\.)?huggingface\.co\/)/, '').replace(/\/+$/, '');
  const gguf = /^([^/]+\/[^/]+)\/(?:(?:blob|resolve)\/([^/]+)\/)?([^/]+\.gguf)$/.exec(id);
  const rev = revision || (gguf?.[2] !== undefined ? decodeURIComponent(gguf[2]) : undefined);
  const ref = parseHubRef(`hf:${gguf?.[1] ?? id}${rev ? `@${rev}` : ''}${gguf ? `/${gguf[3]}` : ''}`);
  return convertInput(
    o.folderName ?? hubModelName(ref),
    async () => {
      const h = await openHubInput(ref, o.hub);
      return { folder: h.folder, side: h.side, sideData: h.sideData, files: [], hub: h.reads };
    },
    o,
    hubDir(ref),
  );
}

interface OpenedInput {
  folder: CheckpointFolder;
  side: InputFolder;
  sideData: SideData;
  /** What the workers read: Files by path, or a Hub input's files. */
  files: [string, File][];
  hub?: HubFiles;
}

/**
 * Workers by default where they write through the main thread's streams (WebKitGTK): that thread takes
 * every write, so more workers only add memory. 2B-4T in WebKitGTK on 2 cores, which it reports as 4:
 * 4 workers 24 s and 1.15-1.23 GB, 2 workers 22 s and 0.9 GB, 1 worker 26 s and 0.66 GB (docs/performance.md).
 */
const STREAMED_THREADS = 2;

async function convertInput(name: string, open: () => Promise<OpenedInput>, o: WebConvertOptions, dir = name): Promise<WebConvertResult> {
  const threads = Math.max(1, checkThreads(o.threads ?? defaultThreads())); // reading tensors needs a worker
  let used = threads;
  const signal = o.signal;
  const check = () => {
    if (signal?.aborted) throw cancelled();
  };
  let outputName = '';
  let run = '';
  let reads: Reads = 'FileReaderSync';
  let writes: Writes = 'sync';
  let sideData: SideData;
  let planning: Promise<{ plan: FormatPlan; small: SmallFile[] }> | undefined;
  const planned = (format: AnyFormat, model: ModelPlan, options: FormatOptions, input: HostInput) =>
    (planning ??= (async () => {
      const gguf = input.checkpoint.gguf?.fileName;
      // the side files go to the planning worker (moved: this thread needs them no more)
      const side = moved([...sideData.files, ...sideData.heads].map(([, bytes]) => bytes));
      const { worker, reply } = startWorker<FromWorker>(WORKER, { type: 'plan', format: format.id, model, options, side: sideData, ...(gguf && { gguf }) } satisfies ToWorker, 'planning', side);
      const m = await reply.finally(() => worker.terminate());
      if (m.type === 'error') throw reviveError(m.error);
      if (m.type !== 'planned') throw new Error(`planning: an unexpected answer (${m.type})`);
      return m;
    })());
  /** Containers hashed as their prefix is written (where workers write through synchronous handles). */
  let following = false;
  /** The handles are exclusive: jobs write their regions into part files, and a container is their File (parts.ts). */
  let parted = false;
  const parts = new Map<string, Parts>();
  const hashes = new Map<string, FollowingHash>();
  let hub: HubFiles | undefined;
  const host: ConversionHost<{ name: string; blob: Blob }[]> = {
    inputName: name,
    async openInput() {
      check();
      // a Hub listing that retries (a 503, a Retry-After) can take a minute: Cancel answers at once, and what it fetches is dropped
      const input = await untilAborted(open(), signal);
      check();
      inputs = input.files;
      hub = input.hub;
      const checkpoint = openCheckpointFolder(input.folder);
      sideData = input.sideData;
      // a .gguf source: its vocabulary rebuilt as tokenizer files where none sit beside it
      const side = checkpoint.gguf ? ggufSideFiles(input.side, checkpoint.gguf.fileName) : input.side;
      return { checkpoint, side, relative: (p) => p.slice(dir.length + 1) };
    },
    defaultTimestamp: () => Math.floor(Date.now() / 1000),
    // on a worker that then ends: a GGUF head with its vocabulary, or a tokenizer rebuilt from a .gguf,
    // leaves ~100 MiB of garbage, which this thread's heap would hold through the jobs
    smallFiles: async (...a) => (await planned(...a)).small,
    plan: async (...a) => (await planned(...a)).plan,
    kernels: compileKernels,
    async begin(format) {
      check();
      outputName = o.outputName ?? `${name}-${format.id}`;
      const output = o.output ?? { kind: 'opfs' };
      if (output.kind === 'directory' && !o.force && (await exists(output.handle, outputName))) {
        throw new OutputError({ file: outputName }, 'the output folder already exists in the chosen folder; pick another folder, or convert with force to replace it');
      }
      run = `${outputName}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
      // held while the run writes, so that removeLeftovers() in another tab leaves this folder alone
      const unlock = await lockRun(run);
      await stagingFolder(run, true);
      const done = { bytesRead: 0, tensorsDone: 0, tensorsStarted: 0 };
      let pool: WebPool | undefined;
      let writer: StreamWriter | undefined;
      let plan: FormatPlan | undefined;
      let options: FormatOptions | undefined;
      const stop = () => pool?.stop(cancelled());
      signal?.addEventListener('abort', stop);
      const end = () => {
        signal?.removeEventListener('abort', stop);
        pool?.stop();
        unlock();
      };
      return {
        get threads() {
          return used;
        },
        async start(p, module, opts) {
          plan = p;
          options = opts;
          check();
          const probe = await writeProbe();
          if (!probe.writes) throw new OutputError({ file: outputName }, `cannot write the output here: ${probe.problem ?? 'unknown reason'}`);
          writes = probe.writes;
          following = writes === 'sync';
          parted = following && probe.shared !== true;
          const staged = await stagingFolder(run);
          if (writes === 'streams') writer = new StreamWriter((name) => fileIn(staged, name, true));
          const progress = (bytes: number, tensors: number, started: number) => {
            done.bytesRead += bytes;
            done.tensorsDone += tensors;
            done.tensorsStarted += started;
          };
          // Writes through streams all go through this thread: by default no more than STREAMED_THREADS workers
          used = Math.min(writes === 'streams' && o.threads === undefined ? Math.min(threads, STREAMED_THREADS) : threads, Math.max(1, p.jobs.length));
          pool = await WebPool.start(used, { module, files: inputs, run, ...(hub && { hub }) }, progress, writer);
          reads = pool.reads;
          check(); // cancelled while the workers started
        },
        async createContainers(containers) {
          // each head moved to the worker that writes it (not copied): the conversion drops it once written
          const headBytes = containers.map((c) => c.head.length);
          // written in parts, a container's head is a file of its own (parts.ts)
          const pieces = (file: string) => plan!.jobs.flatMap((j, i) => (j.file === file && j.regions ? layOut(j.regions, partName(i)) : []));
          if (parted) for (const c of containers) parts.set(c.file, { pieces: pieces(c.file), size: c.bytes, head: headName(c.file) });
          await Promise.all(
            containers.map((c) => {
              const p = parts.get(c.file);
              return pool!.run({ type: 'create', file: c.file, head: c.head, bytes: c.bytes, ...(p && { headFile: p.head }) }, [c.head.buffer as ArrayBuffer]);
            }),
          );
          if (following) containers.forEach((c, i) => hashes.set(c.file, new FollowingHash(pool!, c.file, headBytes[i]!, parts.get(c.file))));
        },
        async runJobs() {
          const order = planOrder(plan!.jobs);
          const jobDone = (k: number) => {
            const job = plan!.jobs[order[k]!]!;
            const h = hashes.get(job.file);
            for (const r of job.regions ?? []) h?.written(r.offset, r.bytes);
          };
          const part = (i: number) => (parted && plan!.jobs[i]!.regions ? { part: partName(i) } : {});
          const results = await pool!.all(order.map((i): Task => ({ type: 'job', job: plan!.jobs[i], options: options!, ...part(i) })), jobDone);
          const byJob: JobOutcome[] = [];
          order.forEach((i, k) => (byJob[i] = { written: results[k]!.written, stats: results[k]!.stats }));
          await closeStreams(writer, outputName); // the files are complete: hashing reads them back
          return byJob;
        },
        progress: () => ({ ...done, ...(hub && { bytesFetched: pool?.fetched() ?? 0 }) }),
        async finishContainers(containers) {
          const rest = await Promise.all(containers.map((c) => hashes.get(c.file)?.rest() ?? { type: 'hash' as const, file: c.file }));
          return (await pool!.all(rest)).map((w) => w.written!);
        },
        async writeSmall(name, bytes) {
          const w = await pool!.run({ type: 'small', file: name, bytes }, moved([bytes]));
          await closeStreams(writer, name);
          return w!.written!;
        },
        async commit(written) {
          check();
          end();
          return deliver(run, outputName, output, written, o.force ?? false, parts);
        },
        async abort() {
          end();
          await writer?.abortAll();
          // a stopped worker's handles close as it goes: retry until the folder can be removed
          await removeRun(run, true);
        },
      };
    },
  };
  let inputs: [string, File][] = [];
  const { delivered, stats, ...r } = await runConversion(host, o);
  let zipped: Promise<File> | undefined;
  const zip = () => (zipped ??= zipInto(run, `${outputName}.zip`, outputName, delivered));
  return { ...r, outputName, outputs: delivered, remove: () => removeRun(run), zip, reads, writes, ...(stats && { ternary: ternarySummary(r.layers, stats) }) };
}

/** Hashing more than this at a time: fewer tasks, each a read and a message. */
const HASH_STEP = 8 << 20;

/**
 * A container hashed as jobs finish its regions, as the CLI does (io/container.ts): the written prefix
 * is hashed by a worker's task, before the jobs waiting, its state carried from task to task, so that
 * the hash follows the writes and little is left once the jobs end (it was 1.2 GB read back and hashed on
 * one worker, 3.6 s, for a 2B-4T GGUF).
 */
class FollowingHash {
  private state?: Sha256State;
  private readonly follower: PrefixFollower;

  /** `parts`: the jobs write into part files, which the hash reads (parts.ts). */
  constructor(
    pool: WebPool,
    private readonly file: string,
    headBytes: number,
    private readonly parts?: Parts,
  ) {
    // a task goes before the jobs waiting (it holds no lane long); the hash state goes from task to task
    const step = async (from: number, to: number) => {
      this.state = (await pool.run(this.task(from, to), [], true)).hashed;
    };
    this.follower = new PrefixFollower(headBytes, step, HASH_STEP);
  }

  written(offset: number, bytes: number): void {
    this.follower.written(offset, bytes);
  }

  /** The task that hashes what is left and gives the digest, once every job has ended. */
  async rest(): Promise<Task> {
    return this.task(await this.follower.settle());
  }

  /** Hashes [from, to); without `to`, on to the end, and the digest. */
  private task(from: number, to?: number): Task {
    const parts = this.parts && { parts: { ...this.parts, pieces: piecesIn(this.parts.pieces, from, to ?? Infinity) } };
    return { type: 'hash', file: this.file, from, ...(to !== undefined && { to }), ...(this.state && { state: this.state }), ...parts };
  }
}

/** Closes the writable streams (each puts what was written in place of its file), a failure in words. */
async function closeStreams(writer: StreamWriter | undefined, file: string): Promise<void> {
  try {
    await writer?.closeAll();
  } catch (e) {
    throw storageError(file, e);
  }
}

/** How a worker can write into OPFS (asked of one worker once per page; streamed.ts). */
let probed: Promise<{ writes?: Writes; problem?: string; shared?: boolean }> | undefined;
function writeProbe(): Promise<{ writes?: Writes; problem?: string; shared?: boolean }> {
  return (probed ??= (async () => {
    const { worker, reply } = startWorker<Extract<FromWorker, { type: 'ready' }>>(WORKER, { type: 'probe' } satisfies ToWorker, 'the conversion worker');
    const { writes, problem, shared, probeFiles = [] } = await reply.finally(() => worker.terminate());
    // removed here, not in the worker: Chromium refused to remove a file there right after closing its handle (the probe files piled up)
    const root = await navigator.storage.getDirectory().catch(() => undefined);
    for (const name of probeFiles) await root?.removeEntry(name).catch(() => undefined);
    return { writes, problem, shared };
  })());
}

/**
 * Loads everything a conversion will fetch (the worker's modules, both kernel builds) so that the HTTP
 * cache holds it: after this, a page works offline (the server that served it may be gone).
 */
export async function warmUp(): Promise<void> {
  const urls = [kernelWasmUrl('simd'), kernelWasmUrl('scalar'), bindingsUrl()];
  await Promise.all(urls.map(async (u) => (await fetch(u)).arrayBuffer()));
  const { worker, reply } = startWorker(WORKER, { type: 'ping' } satisfies ToWorker, 'the conversion worker');
  await reply.finally(() => worker.terminate());
}

/**
 * Streams the zip of `files` into the run's folder (or memory); the run's files are read once, as they are
 * zipped. They sit in a folder named as the output (`folder`), so that unzipping makes the folder the run
 * command names.
 */
async function zipInto(run: string, name: string, folder: string, files: { name: string; blob: Blob }[]): Promise<File> {
  const stream = zipStream(files.map((f) => ({ name: `${folder}/${f.name}`, data: f.blob })));
  const staged = await stagingFolder(run, true).catch(() => undefined);
  const handle = await staged?.getDirectoryHandle('.zip', { create: true }).then((d) => d.getFileHandle(name, { create: true })).catch(() => undefined);
  if (handle && 'createWritable' in handle) {
    await stream.pipeTo(await handle.createWritable());
    return handle.getFile();
  }
  return new File([await new Response(stream).blob()], name, { type: 'application/zip' });
}

/**
 * Why a conversion cannot run in this browser, in one line, or undefined: the page's private file
 * system (OPFS) must open, and a worker must write into it, through a synchronous access handle or
 * through the main thread's writable streams (streamed.ts).
 */
export async function browserProblem(): Promise<string | undefined> {
  if (typeof Worker === 'undefined') return 'This browser has no Web Workers, which the converter runs in.';
  const storage = globalThis.navigator?.storage as (StorageManager & { getDirectory?: () => Promise<FileSystemDirectoryHandle> }) | undefined;
  if (!storage?.getDirectory) return 'This browser does not give the page its private file system (OPFS, navigator.storage.getDirectory), where the converter writes the output.';
  try {
    await (await storage.getDirectory()).getDirectoryHandle(RUNS, { create: true });
  } catch (e) {
    return `This browser refuses the page its private file system (OPFS), where the converter writes the output: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
  }
  const { problem } = await writeProbe();
  return problem && `This browser's workers cannot write into its private file system (OPFS createSyncAccessHandle or createWritable), as the converter does: ${problem}`;
}

async function exists(dir: FileSystemDirectoryHandle, name: string): Promise<boolean> {
  try {
    await dir.getDirectoryHandle(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * Moves the finished run to where it was asked for; the OPFS copy goes unless it is the destination.
 * `parts`: the containers written in parts, each delivered as the File of its head and parts (parts.ts).
 */
async function deliver(run: string, outputName: string, output: WebOutput, files: OutputFile[], force: boolean, parts: Map<string, Parts>): Promise<{ name: string; blob: Blob }[]> {
  const staged = await stagingFolder(run);
  const file = async (name: string) => (await fileIn(staged, name, false)).getFile();
  const fileOf = async (name: string): Promise<File> => {
    const p = parts.get(name);
    return p ? joined(name, p, file) : file(name);
  };
  if (output.kind === 'opfs') return Promise.all(files.map(async (f) => ({ name: f.name, blob: await fileOf(f.name) })));
  try {
    if (output.kind === 'blobs') {
      return await Promise.all(files.map(async (f) => ({ name: f.name, blob: new Blob([await (await fileOf(f.name)).arrayBuffer()]) })));
    }
    if (force) await output.handle.removeEntry(outputName, { recursive: true }).catch(() => undefined);
    const target = await output.handle.getDirectoryHandle(outputName, { create: true });
    try {
      for (const f of files) {
        const w = await (await fileIn(target, f.name, true)).createWritable();
        await (await fileOf(f.name)).stream().pipeTo(w);
      }
    } catch (e) {
      await output.handle.removeEntry(outputName, { recursive: true }).catch(() => undefined);
      throw new OutputError({ file: outputName }, `cannot write into the chosen folder: ${e instanceof Error ? e.message : String(e)}`);
    }
    return [];
  } finally {
    await removeRun(run);
  }
}
