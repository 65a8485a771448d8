// The conversion on Node: the shared sequence (pipeline/conversion.ts runConversion) with Node's host:
// the checkpoint on disk, jobs on worker threads (or inline), a temporary folder moved into place.

import { availableParallelism } from 'node:os';
import { existsSync, realpathSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import { compileKernels } from '../kernels/index.js';
import { openCheckpoint } from '../io/checkpoint.js';
import { openCheckpointFolder } from '../model/checkpoint.js';
import { ggufModelName } from '../model/gguf-checkpoint.js';
import type { SideData } from '../model/read-ahead.js';
import type { InputFolder } from '../outputs/types.js';
import { hubModelName, isHubInput, openHubInput, parseHubRef, type HubOptions } from '../hub/repo.js';
import { serveHub, stopHubReaders, type HubReadSpec } from '../io/hub-reader.js';
import { FileSink, fsyncFile } from '../io/file-sink.js';
import { ContainerHasher, createContainer } from '../io/container.js';
import { OutputTransaction } from '../io/output-dir.js';
import { OutputError, UsageError } from '../errors.js';
import type { TernaryStats } from '../inspect/stats.js';
import { checkThreads, runConversion, type ConversionHost, type ConversionOptions, type OutputFile, type Written } from '../pipeline/conversion.js';
import type { Tinypool } from 'tinypool';
import { destroyPool, runJobs, startPool } from './pool.js';
import { finishInWorker, inputFolder, planInWorker } from './plan-worker.js';
import { ggufSideFiles } from '../outputs/side-files.js';
import { ProgressCounter } from './progress-counter.js';
import type { RunnableJob } from './run-job.js';

export type { OutputFile, Progress } from '../pipeline/conversion.js';

export interface ConvertOptions extends ConversionOptions {
  /** A checkpoint folder, or a Hugging Face model as hf:ORG/NAME[@REVISION] (read over HTTP, nothing stored). */
  inputDir: string;
  /** A Hub input: the access token, the Hub's address (default https://huggingface.co), retries (hub/repo.ts). */
  hub?: HubOptions;
  outputDir: string;
  /** Replace an existing output folder (only after success). */
  force?: boolean;
  /** Worker threads; 0 runs everything on the calling thread. Default: available parallelism. */
  threads?: number;
  /**
   * fsync every file before the folder is moved into place (default). Off only for an output that is
   * thrown away (verify's re-derivation): the fsyncs are most of its write time.
   */
  durable?: boolean;
}

export interface ConvertSummary {
  outputDir: string;
  format: string;
  /** A Hub input: tensor bytes received over the network. */
  bytesFetched?: number;
  /** The input layout detected (layouts/index.ts). */
  layout: string;
  files: OutputFile[];
  /** Bytes of tensor data read, counting both passes over a projection too large to hold. */
  bytesRead: number;
  /** Size of the input safetensors files. */
  inputBytes: number;
  seconds: number;
  kernels: 'simd' | 'scalar';
  threads: number;
  tiedLmHead: boolean;
  warnings: string[];
  /** With `stats`: every ternary weight's statistics, by tensor name. */
  stats?: Map<string, TernaryStats>;
}

export async function convert(opts: ConvertOptions): Promise<ConvertSummary> {
  const r = await runConversion(nodeHost(opts), opts);
  return {
    outputDir: r.delivered,
    format: r.format,
    layout: r.layout,
    files: r.files,
    bytesRead: r.bytesRead,
    ...(r.bytesFetched !== undefined && { bytesFetched: r.bytesFetched }),
    inputBytes: r.inputBytes,
    seconds: r.seconds,
    kernels: r.kernels,
    threads: r.threads,
    tiedLmHead: r.tiedLmHead,
    warnings: r.warnings,
    stats: r.stats,
  };
}

/** The side files of a Hub input on this thread once the plan's and small files' threads have them (nothing here reads them then). */
const handedOver: InputFolder = {
  readSide(name) {
    throw new Error(`${name}: a side file read on the main thread after it was handed to the plan's thread`); // a bug
  },
};

/** Node's side of the conversion: files on disk, worker threads, a temporary folder renamed into place (delivers its path). */
function nodeHost(opts: ConvertOptions): ConversionHost<string> {
  const threads = checkThreads(opts.threads ?? availableParallelism());
  const durable = opts.durable ?? true;
  const hubRef = isHubInput(opts.inputDir) ? parseHubRef(opts.inputDir) : undefined;
  // a Hub input's side files read ahead (a tokenizer.json is ~9 MB): with worker threads, handed to the
  // plan and small-files threads and dropped here then, not held through the jobs
  let hub: { reads: HubReadSpec; side?: SideData } | undefined;
  // the kernels compiled once per build; the worker threads started with them while the input is planned
  const compiled = new Map<string, ReturnType<typeof compileKernels>>();
  const compile = (build: 'auto' | 'simd' | 'scalar') => compiled.get(build) ?? compiled.set(build, compileKernels(build)).get(build)!;
  let warm: Promise<Tinypool | undefined> | undefined;
  return {
    inputName: hubRef ? hubModelName(hubRef) : ggufModelName(basename(resolve(opts.inputDir))), // a .gguf named: its name without the extension
    async openInput() {
      if (hubRef) {
        const h = await openHubInput(hubRef, opts.hub);
        hub = { reads: { ...h.reads, key: `${h.repo.sha}-${process.pid}-${Date.now()}-${Math.random()}` }, side: h.sideData };
        const checkpoint = openCheckpointFolder(h.folder);
        const side = threads > 0 ? handedOver : checkpoint.gguf ? ggufSideFiles(h.side, checkpoint.gguf.fileName) : h.side;
        const dir = h.repo.dir; // not h: it holds the side data
        return { checkpoint, side, relative: (f) => f.slice(dir.length + 1) };
      }
      const checkpoint = openCheckpoint(opts.inputDir);
      const dir = checkpoint.dir;
      // a .gguf source: its vocabulary rebuilt as tokenizer files where none sit beside it
      const side = checkpoint.gguf ? ggufSideFiles(inputFolder(dir), checkpoint.gguf.fileName) : inputFolder(dir);
      return { checkpoint, side, relative: (f) => relative(dir, f) };
    },
    defaultTimestamp,
    plan(format, model, options, input) {
      if (threads === 0) return Promise.resolve(format.plan(model, options, input.side));
      const planned = planInWorker({ format: format.id, model, options, inputDir: input.checkpoint.dir, ...(hub && { side: hub.side }) });
      if (hub) hub.side = undefined; // the small files' thread was started before (conversion.ts)
      return planned;
    },
    smallFiles:
      threads === 0
        ? undefined
        : (format, model, options, input) =>
            finishInWorker({ format: format.id, model, options, inputDir: input.checkpoint.dir, ...(hub && { side: hub.side }), ...(input.checkpoint.gguf && { gguf: input.checkpoint.gguf.fileName }) }),
    kernels: compile,
    warm(build) {
      if (threads === 0) return;
      warm = compile(build).then(({ module }) => startPool(threads, module));
      warm.catch(() => undefined); // a compile failure is reported where the kernels are awaited
    },
    async release() {
      const pool = await warm?.catch(() => undefined);
      warm = undefined;
      if (pool) await destroyPool(pool);
    },
    async begin(_format, input, warn) {
      if (!hub) refuseOutputOverInput(input.checkpoint.dir, opts.outputDir);
      const out = OutputTransaction.begin(opts.outputDir, opts.force ?? false, warn);
      const counter = new ProgressCounter();
      const fetched = { buffer: counter.buffer, cell: ProgressCounter.FETCHED_CELL };
      // the workers' reads are served by this thread, idle while they run; --threads 0 reads on this thread, through a reader thread
      const served = hub && threads > 0 ? serveHub({ ...hub.reads, fetched }, threads) : undefined;
      const reads: HubReadSpec | undefined = hub && { ...hub.reads, fetched, ...(served && { channels: served.channels }) };
      const stopReads = async () => {
        await served?.stop();
        if (reads) await stopHubReaders(reads.key);
      };
      const hashers = new Map<string, ContainerHasher>();
      let jobs: RunnableJob[] = [];
      let module: WebAssembly.Module | undefined;
      return {
        threads,
        async start(plan, m, options) {
          module = m;
          jobs = plan.jobs.map((job): RunnableJob => ({ job, dir: out.tempDir, options, progress: counter.buffer, durable, ...(reads && { hub: reads }) }));
        },
        async createContainers(containers) {
          for (const c of containers) {
            createContainer(join(out.tempDir, c.file), c.head, c.bytes);
            hashers.set(c.file, new ContainerHasher(join(out.tempDir, c.file), c.bytes, c.head.length));
          }
        },
        async runJobs() {
          // a container is hashed as its regions land, on this thread, between handing out jobs
          // and a job's own file is fsynced from here as the job ends, so its worker does not wait for the disk
          // (a failure is kept, not left unhandled, until the jobs end)
          const syncs: Promise<void>[] = [];
          let syncFailure: { error: unknown } | undefined;
          const onDone = (i: number) => {
            const { job } = jobs[i];
            for (const r of job.regions ?? []) hashers.get(job.file)!.written(r.offset, r.bytes);
            if (!job.regions && durable) syncs.push(fsyncFile(join(out.tempDir, job.file)).catch((error) => void (syncFailure ??= { error })));
          };
          let results;
          try {
            // the started pool is the jobs' now (runJobs destroys it)
            const pool = await warm?.catch(() => undefined);
            warm = undefined;
            results = await runJobs(jobs, { threads, module: module!, pool, onDone });
          } finally {
            await Promise.all(syncs); // none left running when a failure removes the folder
          }
          if (syncFailure) throw syncFailure.error;
          return results.map((r) => ({ written: r.written, stats: r.stats, rounded: r.rounded }));
        },
        progress: () => ({ ...counter.read(), ...(reads && { bytesFetched: counter.fetched() }) }),
        async finishContainers(containers) {
          return Promise.all(containers.map((c) => hashers.get(c.file)!.finish(durable)));
        },
        async writeSmall(name, bytes) {
          return writeSmall(out.tempDir, name, bytes);
        },
        async commit() {
          await stopReads();
          out.commit();
          return out.target;
        },
        async abort() {
          await stopReads();
          out.abort();
        },
      };
    },
  };
}

function writeSmall(dir: string, name: string, bytes: Uint8Array): Written {
  const sink = new FileSink(join(dir, name));
  sink.write(bytes);
  return sink.close();
}

/** Replacing the output must never delete the input: refuse an output that is or holds the input. */
function refuseOutputOverInput(inputDir: string, outputDir: string): void {
  const real = (p: string) => (existsSync(p) ? realpathSync(p) : resolve(p));
  const input = real(inputDir);
  const output = real(outputDir);
  if (input === output || input.startsWith(output + sep)) {
    throw new OutputError({ file: resolve(outputDir) }, `the output folder is or contains the input folder ${input}; choose another --output-dir`);
  }
}

function defaultTimestamp(): number {
  const env = process.env.SOURCE_DATE_EPOCH;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`SOURCE_DATE_EPOCH: expected whole seconds since 1970, found ${JSON.stringify(env)}`);
    return n;
  }
  return Math.floor(Date.now() / 1000);
}
