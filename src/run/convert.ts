// The conversion, start to end: open and check the checkpoint, plan one job per output
// file, run the jobs on the worker pool into a temporary folder, add the small files
// (metadata, config, manifest) and move the folder into place.

import { availableParallelism } from 'node:os';
import { existsSync, realpathSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import { compileKernels } from '../kernels/index.js';
import { openCheckpoint } from '../io/checkpoint.js';
import { FileSink } from '../io/file-sink.js';
import { ContainerHasher, createContainer } from '../io/container.js';
import { OutputTransaction } from '../io/output-dir.js';
import { formatById } from '../outputs/index.js';
import { OutputError, UsageError } from '../errors.js';
import { DEFAULTS } from '../defaults.js';
import {
  checkThreads,
  describeSource,
  formatOptions,
  jobTotals,
  manifestBytes,
  planModel,
  type ConversionOptions,
  type OutputFile,
  type Progress,
} from '../pipeline/conversion.js';
import { runJobs } from './pool.js';
import { inputFolder, planInWorker } from './plan-worker.js';
import { ProgressCounter } from './progress-counter.js';
import type { RunnableJob } from './run-job.js';

export type { OutputFile, Progress } from '../pipeline/conversion.js';

export interface ConvertOptions extends ConversionOptions {
  inputDir: string;
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
}

export async function convert(opts: ConvertOptions): Promise<ConvertSummary> {
  const started = performance.now();
  const threads = checkThreads(opts.threads ?? availableParallelism());
  const format = formatById(opts.format ?? DEFAULTS.format);
  const options = formatOptions(format, opts, basename(resolve(opts.inputDir)), defaultTimestamp);
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    opts.onWarning?.(m);
  };

  // Everything that can be checked is checked before the output folder is touched.
  const checkpoint = openCheckpoint(opts.inputDir);
  const model = planModel(checkpoint, warn);
  const plan =
    threads === 0
      ? format.plan(model, options, inputFolder(checkpoint.dir))
      : await planInWorker({ format: format.id, model, options, inputDir: checkpoint.dir });

  refuseOutputOverInput(checkpoint.dir, opts.outputDir);
  const out = OutputTransaction.begin(opts.outputDir, opts.force ?? false, warn);
  try {
    const { module, flavor } = await compileKernels(opts.kernels ?? DEFAULTS.kernels);
    const hashers = new Map<string, ContainerHasher>();
    for (const c of plan.containers) {
      createContainer(join(out.tempDir, c.file), c.head, c.bytes);
      hashers.set(c.file, new ContainerHasher(join(out.tempDir, c.file), c.bytes, c.head.length));
    }
    const onDone = (i: number) => {
      const j = plan.jobs[i];
      for (const r of j.regions ?? []) hashers.get(j.file)!.written(r.offset, r.bytes);
    };
    const counter = new ProgressCounter();
    const durable = opts.durable ?? true;
    const jobs = plan.jobs.map((job): RunnableJob => ({ job, dir: out.tempDir, options, progress: counter.buffer, durable }));
    const { bytesTotal, tensorsTotal } = jobTotals(plan);
    const report = () => opts.onProgress?.({ ...counter.read(), bytesTotal, tensorsTotal });
    const timer = opts.onProgress ? setInterval(report, 200) : undefined;
    let results;
    try {
      results = await runJobs(jobs, { threads, module, weight: (j) => j.job.cost.bytes, onDone });
    } finally {
      if (timer) clearInterval(timer);
    }
    report();

    const written: OutputFile[] = [];
    for (const r of results) if (r.written) written.push({ name: r.file, ...r.written });
    for (const c of plan.containers) written.push({ name: c.file, ...hashers.get(c.file)!.finish(durable) });
    for (const f of format.finish(model, options, inputFolder(checkpoint.dir))) written.push(writeSmall(out.tempDir, f.name, f.bytes));
    const source = describeSource(checkpoint, basename(checkpoint.dir), (f) => relative(checkpoint.dir, f));
    const manifestFile = writeSmall(out.tempDir, 'manifest.json', manifestBytes(format, model, options, written, source));
    out.commit();
    return {
      outputDir: out.target,
      format: format.id,
      layout: model.layout,
      files: [...written, manifestFile],
      bytesRead: counter.read().bytesRead,
      inputBytes: source.bytes,
      seconds: (performance.now() - started) / 1000,
      kernels: flavor,
      threads,
      tiedLmHead: model.outputTied,
      warnings,
    };
  } catch (e) {
    out.abort();
    throw e;
  }
}

function writeSmall(dir: string, name: string, bytes: Uint8Array): OutputFile {
  const sink = new FileSink(join(dir, name));
  sink.write(bytes);
  return { name, ...sink.close() };
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
