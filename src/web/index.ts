// The browser (and worker-capable runtime) API: convertFiles(files, options) converts a model folder
// given as File objects, with the same formats, options and bytes as the CLI. Work runs in module
// workers; outputs are written to the origin private file system (OPFS) as they are produced, so a
// multi-GB model never sits in memory, then delivered where the caller asked.

import { DEFAULTS } from '../defaults.js';
import { OutputError } from '../errors.js';
import { bindingsUrl, compileKernels, kernelWasmUrl } from '../kernels/index.js';
import { openCheckpointFolder, type Checkpoint } from '../model/checkpoint.js';
import { formatById } from '../outputs/index.js';
import {
  checkThreads,
  describeSource,
  formatOptions,
  jobTotals,
  manifestBytes,
  planModel,
  type ConversionOptions,
  type OutputFile,
} from '../pipeline/conversion.js';
import { fileSet, readAhead } from './input.js';
import { fileIn, lockRun, removeRun, stagingFolder } from './opfs.js';
export { removeLeftovers } from './opfs.js';
import { READER, startWorker, WebPool, WORKER } from './pool.js';
import type { Reads, Task, ToWorker } from './worker.js';

export { FORMATS, FORMAT_IDS, formatById, optionFlag } from '../outputs/index.js';
export { DEFAULTS } from '../defaults.js';
export type { ConversionOptions, OutputFile, Progress } from '../pipeline/conversion.js';
export { simdSupported } from '../kernels/index.js';

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
  /** Module workers (default: navigator.hardwareConcurrency, at most one per job). */
  threads?: number;
  output?: WebOutput;
  /** The output folder's name (default "<input folder>-<format>"). */
  outputName?: string;
  /** Replace an existing output folder of that name in the picked directory. */
  force?: boolean;
  /** The input folder's name, when the files do not come from a picked folder. */
  folderName?: string;
}

export interface WebConvertResult {
  format: string;
  layout: string;
  outputName: string;
  /** Every output file with its size and sha256, manifest.json last (as manifest.json lists them). */
  files: OutputFile[];
  /** The files themselves (disk-backed for `opfs`, in memory for `blobs`, absent for `directory`). */
  outputs: { name: string; blob: Blob }[];
  /** Deletes the OPFS copy (`opfs` output). */
  remove: () => Promise<void>;
  bytesRead: number;
  inputBytes: number;
  seconds: number;
  /** Where the seconds went: reading headers and planning, starting the workers (module load, wasm instantiation), the jobs, hashing containers and writing the small files, delivery. */
  phases: { plan: number; workers: number; jobs: number; finish: number; deliver: number };
  kernels: 'simd' | 'scalar';
  threads: number;
  /** How the workers read the input: through a reader worker and shared memory (a cross-origin-isolated page), or FileReaderSync. */
  reads: Reads;
  warnings: string[];
}

function defaultThreads(): number {
  return (globalThis.navigator?.hardwareConcurrency as number | undefined) ?? 2;
}

export async function convertFiles(files: Iterable<File>, o: WebConvertOptions = {}): Promise<WebConvertResult> {
  const started = performance.now();
  const marks = [started];
  const mark = () => marks.push(performance.now());
  const threads = Math.max(1, checkThreads(o.threads ?? defaultThreads())); // reading tensors needs a worker
  const format = formatById(o.format ?? DEFAULTS.format);
  const set = fileSet(files, o.folderName);
  const options = formatOptions(format, o, set.dir, () => Math.floor(Date.now() / 1000));
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    o.onWarning?.(m);
  };

  // Everything that can be checked is checked before anything is written.
  const { folder, side } = await readAhead(set);
  const checkpoint: Checkpoint = openCheckpointFolder(folder);
  const model = planModel(checkpoint, warn);
  const plan = format.plan(model, options, side);
  const outputName = o.outputName ?? `${set.dir}-${format.id}`;
  const output = o.output ?? { kind: 'opfs' };
  if (output.kind === 'directory' && !o.force && (await exists(output.handle, outputName))) {
    throw new OutputError({ file: outputName }, 'the output folder already exists in the chosen folder; pick another folder, or convert with force to replace it');
  }

  const run = `${outputName}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  // held while the run writes, so that removeLeftovers() in another tab leaves this folder alone
  const unlock = await lockRun(run);
  await stagingFolder(run, true);
  const { bytesTotal, tensorsTotal } = jobTotals(plan);
  const done = { bytesRead: 0, tensorsDone: 0 };
  const report = () => o.onProgress?.({ ...done, bytesTotal, tensorsTotal });
  const inputs = [...set.files].map(([name, f]) => [folder.path(name), f] as [string, File]);
  let pool: WebPool | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  try {
    const { module, flavor } = await compileKernels(o.kernels ?? DEFAULTS.kernels);
    mark();
    pool = await WebPool.start(Math.min(threads, Math.max(1, plan.jobs.length)), { module, files: inputs, run }, (bytes, tensors) => {
      done.bytesRead += bytes;
      done.tensorsDone += tensors;
    });
    mark();
    timer = o.onProgress ? setInterval(report, 200) : undefined;
    await pool.all(plan.containers.map((c): Task => ({ type: 'create', file: c.file, head: c.head, bytes: c.bytes })));
    const order = plan.jobs.map((_, i) => i).sort((a, b) => plan.jobs[b].cost.bytes - plan.jobs[a].cost.bytes);
    const results = await pool.all(order.map((i): Task => ({ type: 'job', job: plan.jobs[i], options })));
    if (timer) clearInterval(timer);
    report();
    mark();

    // In the plan's job order, as the CLI lists them.
    const byJob: (typeof results)[number][] = [];
    order.forEach((i, k) => (byJob[i] = results[k]));
    const written: OutputFile[] = [];
    plan.jobs.forEach((j, i) => byJob[i] && written.push({ name: j.file, ...byJob[i]! }));
    const hashed = await pool.all(plan.containers.map((c): Task => ({ type: 'hash', file: c.file })));
    plan.containers.forEach((c, i) => written.push({ name: c.file, ...hashed[i]! }));
    const small = format.finish(model, options, side);
    const smallWritten = await pool.all(small.map((f): Task => ({ type: 'small', file: f.name, bytes: f.bytes })));
    small.forEach((f, i) => written.push({ name: f.name, ...smallWritten[i]! }));
    const source = describeSource(checkpoint, set.dir, (p) => p.slice(set.dir.length + 1));
    const manifest = manifestBytes(format, model, options, written, source);
    const [m] = await pool.all([{ type: 'small', file: 'manifest.json', bytes: manifest }]);
    written.push({ name: 'manifest.json', ...m! });
    pool.stop();
    mark();
    const outputs = await deliver(run, outputName, output, written, o.force ?? false);
    mark();
    const [plan_, workers, jobs, finish, deliver_] = marks.slice(1).map((t, i) => (t - marks[i]) / 1000);
    return {
      format: format.id,
      layout: model.layout,
      outputName,
      files: written,
      outputs,
      remove: () => removeRun(run),
      bytesRead: done.bytesRead,
      inputBytes: source.bytes,
      seconds: (performance.now() - started) / 1000,
      phases: { plan: plan_, workers, jobs, finish, deliver: deliver_ },
      kernels: flavor,
      threads,
      reads: pool.reads,
      warnings,
    };
  } catch (e) {
    pool?.stop();
    await removeRun(run);
    throw e;
  } finally {
    if (timer) clearInterval(timer);
    unlock();
  }
}

/**
 * Loads everything a conversion will fetch (the worker's modules, both kernel builds) so that the HTTP
 * cache holds it: after this, a page works offline (the server that served it may be gone).
 */
export async function warmUp(): Promise<void> {
  const urls = [kernelWasmUrl('simd'), kernelWasmUrl('scalar'), bindingsUrl()];
  await Promise.all(urls.map(async (u) => (await fetch(u)).arrayBuffer()));
  for (const script of [WORKER, READER]) {
    const { worker, reply } = startWorker(script, { type: 'ping' } satisfies ToWorker, 'the conversion worker');
    await reply.finally(() => worker.terminate());
  }
}

async function exists(dir: FileSystemDirectoryHandle, name: string): Promise<boolean> {
  try {
    await dir.getDirectoryHandle(name);
    return true;
  } catch {
    return false;
  }
}

/** Moves the finished run to where it was asked for; the OPFS copy goes unless it is the destination. */
async function deliver(run: string, outputName: string, output: WebOutput, files: OutputFile[], force: boolean): Promise<{ name: string; blob: Blob }[]> {
  const staged = await stagingFolder(run);
  const fileOf = async (name: string) => (await fileIn(staged, name, false)).getFile();
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
