// The browser (and worker-capable runtime) API: convertFiles(files, options) converts a model folder
// given as File objects, with the same formats, options and bytes as the CLI. Work runs in module
// workers; outputs are written to the origin private file system (OPFS) as they are produced, so a
// multi-GB model never sits in memory, then delivered where the caller asked.

import { OutputError } from '../errors.js';
import { bindingsUrl, compileKernels, kernelWasmUrl } from '../kernels/index.js';
import { openCheckpointFolder } from '../model/checkpoint.js';
import { checkThreads, jobOrder, runConversion, type ConversionHost, type ConversionOptions, type ConversionResult, type JobOutcome, type OutputFile } from '../pipeline/conversion.js';
import type { FormatOptions, FormatPlan } from '../outputs/types.js';
import { fileSet, readAhead } from './input.js';
import { hubDir, hubModelName, openHubInput, parseHubRef, type HubOptions } from '../hub/repo.js';
import type { HubFiles } from '../hub/range-reader.js';
import type { CheckpointFolder } from '../model/checkpoint.js';
import type { InputFolder } from '../outputs/types.js';
import { fileIn, lockRun, removeRun, stagingFolder } from './opfs.js';
export { removeLeftovers } from './opfs.js';
import { READER, startWorker, WebPool, WORKER } from './pool.js';
import type { Reads, Task, ToWorker } from './worker.js';

export { FORMATS, FORMAT_IDS, formatById, optionFlag } from '../outputs/index.js';
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

/** The shared sequence's result (ConversionResult) as the page and callers see it. */
export interface WebConvertResult extends Omit<ConversionResult<unknown>, 'delivered' | 'stats'> {
  outputName: string;
  /** The files themselves (disk-backed for `opfs`, in memory for `blobs`, absent for `directory`). */
  outputs: { name: string; blob: Blob }[];
  /** Deletes the OPFS copy (`opfs` output). */
  remove: () => Promise<void>;
  /** How the workers read the input: through a reader worker and shared memory (a cross-origin-isolated page), or FileReaderSync. */
  reads: Reads;
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
      const { folder, side } = await readAhead(set);
      return { folder, side, files: [...set.files].map(([name, f]) => [folder.path(name), f] as [string, File]) };
    },
    o,
  );
}

/**
 * Converts a model on the Hugging Face Hub, `ORG/NAME` (or `hf:ORG/NAME`, or its page's address) at `revision` (default: its
 * default branch), reading only the bytes the conversion needs by range requests; nothing is stored
 * but the output. `hub`: an access token for a gated or private model, another endpoint. The model's
 * name (outputs, manifest) is NAME, as a downloaded folder of it is usually named.
 */
export async function convertHub(repo: string, revision: string | undefined, o: WebConvertOptions & { hub?: HubOptions } = {}): Promise<WebConvertResult> {
  // as typed or pasted: ORG/NAME, hf:ORG/NAME, or the model page's address
  const id = repo.trim().replace(/^(hf:|https?:\/\/(www\.)?huggingface\.co\/)/, '').replace(/\/+$/, '');
  const ref = parseHubRef(`hf:${id}${revision ? `@${revision}` : ''}`);
  return convertInput(
    o.folderName ?? hubModelName(ref),
    async () => {
      const h = await openHubInput(ref, o.hub);
      return { folder: h.folder, side: h.side, files: [], hub: h.reads };
    },
    o,
    hubDir(ref),
  );
}

interface OpenedInput {
  folder: CheckpointFolder;
  side: InputFolder;
  /** What the workers read: Files by path, or a Hub input's files. */
  files: [string, File][];
  hub?: HubFiles;
}

async function convertInput(name: string, open: () => Promise<OpenedInput>, o: WebConvertOptions, dir = name): Promise<WebConvertResult> {
  const threads = Math.max(1, checkThreads(o.threads ?? defaultThreads())); // reading tensors needs a worker
  let outputName = '';
  let run = '';
  let reads: Reads = 'FileReaderSync';
  let hub: HubFiles | undefined;
  const host: ConversionHost<{ name: string; blob: Blob }[]> = {
    inputName: name,
    async openInput() {
      const input = await open();
      inputs = input.files;
      hub = input.hub;
      return { checkpoint: openCheckpointFolder(input.folder), side: input.side, relative: (p) => p.slice(dir.length + 1) };
    },
    defaultTimestamp: () => Math.floor(Date.now() / 1000),
    plan: async (format, model, options, input) => format.plan(model, options, input.side),
    kernels: compileKernels,
    async begin(format) {
      outputName = o.outputName ?? `${name}-${format.id}`;
      const output = o.output ?? { kind: 'opfs' };
      if (output.kind === 'directory' && !o.force && (await exists(output.handle, outputName))) {
        throw new OutputError({ file: outputName }, 'the output folder already exists in the chosen folder; pick another folder, or convert with force to replace it');
      }
      run = `${outputName}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
      // held while the run writes, so that removeLeftovers() in another tab leaves this folder alone
      const unlock = await lockRun(run);
      await stagingFolder(run, true);
      const done = { bytesRead: 0, tensorsDone: 0 };
      let pool: WebPool | undefined;
      let plan: FormatPlan | undefined;
      let options: FormatOptions | undefined;
      const end = () => {
        pool?.stop();
        unlock();
      };
      return {
        threads,
        async start(p, module, opts) {
          plan = p;
          options = opts;
          pool = await WebPool.start(Math.min(threads, Math.max(1, p.jobs.length)), { module, files: inputs, run, ...(hub && { hub }) }, (bytes, tensors) => {
            done.bytesRead += bytes;
            done.tensorsDone += tensors;
          });
          reads = pool.reads;
        },
        async createContainers(containers) {
          await pool!.all(containers.map((c): Task => ({ type: 'create', file: c.file, head: c.head, bytes: c.bytes })));
        },
        async runJobs() {
          const order = jobOrder(plan!.jobs.map((j) => j.cost.bytes));
          const results = await pool!.all(order.map((i): Task => ({ type: 'job', job: plan!.jobs[i], options: options! })));
          const byJob: JobOutcome[] = [];
          order.forEach((i, k) => (byJob[i] = { written: results[k] ?? undefined }));
          return byJob;
        },
        progress: () => done,
        async finishContainers(containers) {
          return (await pool!.all(containers.map((c): Task => ({ type: 'hash', file: c.file })))).map((w) => w!);
        },
        async writeSmall(name, bytes) {
          const [w] = await pool!.all([{ type: 'small', file: name, bytes }]);
          return w!;
        },
        async commit(written) {
          end();
          return deliver(run, outputName, output, written, o.force ?? false);
        },
        async abort() {
          end();
          await removeRun(run);
        },
      };
    },
  };
  let inputs: [string, File][] = [];
  const { delivered, stats: _none, ...r } = await runConversion(host, o);
  return { ...r, outputName, outputs: delivered, remove: () => removeRun(run), reads };
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
