// The conversion, start to end: open and check the checkpoint, plan one job per output
// file, run the jobs on the worker pool into a temporary folder, add the small files
// (metadata, config, manifest) and move the folder into place.

import { availableParallelism } from 'node:os';
import { existsSync, realpathSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import type { BincodeFlavor } from '../formats/bincode.js';
import { jsonBytes } from '../formats/json-text.js';
import { compileKernels } from '../kernels/index.js';
import { openCheckpoint } from '../io/checkpoint.js';
import { FileSink } from '../io/file-sink.js';
import { ContainerHasher, createContainer } from '../io/container.js';
import { OutputTransaction } from '../io/output-dir.js';
import { parseModelConfig } from '../model/config.js';
import { planCheckpoint } from '../layouts/index.js';
import { formatById, type FormatOptions } from '../outputs/index.js';
import type { QuantRule, ScaleGranularity } from '../quant/rule.js';
import { OutputError, UsageError } from '../errors.js';
import { DEFAULTS } from '../defaults.js';
import { manifestOf, type OutputFile } from './manifest.js';
export type { OutputFile } from './manifest.js';
import { runJobs } from './pool.js';
import { inputFolder, planInWorker } from './plan-worker.js';
import { ProgressCounter, type ProgressSnapshot } from './progress-counter.js';
import type { RunnableJob } from './run-job.js';

export interface ConvertOptions {
  inputDir: string;
  outputDir: string;
  /** The output format (outputs/index.ts); default bitnet-rs. */
  format?: string;
  /** Replace an existing output folder (only after success). */
  force?: boolean;
  /** Worker threads; 0 runs everything on the calling thread. Default: available parallelism. */
  threads?: number;
  bincode?: BincodeFlavor;
  granularity?: ScaleGranularity;
  /** GGUF: the ternary tensor type and the architecture (default auto: from hidden_act). */
  ggufType?: FormatOptions['gguf']['type'];
  ggufArch?: FormatOptions['gguf']['arch'];
  /** offline (default): the reference rule in the tensor's dtype; online: transformers' WeightQuant in f32. */
  rule?: QuantRule;
  /** Input bytes per chunk read into wasm memory. */
  chunkBytes?: number;
  /** Projections up to this size are read once and held for both passes (default 64 MiB). */
  holdBytes?: number;
  /** conversion_timestamp in seconds; default SOURCE_DATE_EPOCH, else now. */
  timestamp?: number;
  kernels?: 'auto' | 'simd' | 'scalar';
  /** Called about 5 times a second while jobs run, and once at the end. */
  onProgress?: (p: Progress) => void;
  onWarning?: (message: string) => void;
}

export interface Progress extends ProgressSnapshot {
  /** Input bytes to read in all, counting both passes over a projection too large to hold. */
  bytesTotal: number;
  tensorsTotal: number;
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
  const threads = opts.threads ?? availableParallelism();
  if (!Number.isSafeInteger(threads) || threads < 0) throw new UsageError(`--threads: expected a whole number >= 0, found ${opts.threads}`);
  const format = formatById(opts.format ?? DEFAULTS.format);
  const options: FormatOptions = {
    bincode: opts.bincode ?? DEFAULTS.bincode,
    granularity: opts.granularity ?? DEFAULTS.granularity,
    rule: opts.rule ?? DEFAULTS.rule,
    chunkBytes: opts.chunkBytes ?? DEFAULTS.chunkBytes,
    holdBytes: opts.holdBytes ?? DEFAULTS.holdBytes,
    timestamp: opts.timestamp ?? defaultTimestamp(),
    modelName: basename(resolve(opts.inputDir)),
    gguf: { type: opts.ggufType ?? DEFAULTS.ggufType, arch: opts.ggufArch ?? DEFAULTS.ggufArch },
  };
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    opts.onWarning?.(m);
  };

  // Everything that can be checked is checked before the output folder is touched.
  const checkpoint = openCheckpoint(opts.inputDir);
  for (const s of checkpoint.skipped) warn(`${s.file}: skipped tensor ${s.name} with shape [${s.shape}]: ${s.reason}`);
  const config = parseModelConfig(checkpoint.config, checkpoint.configPath);
  const files = checkpoint.files.map((f) => f.file);
  const model = planCheckpoint({ config, tensors: checkpoint.tensors, files, configPath: checkpoint.configPath });
  if (model.unused.length) warn(`${model.unused.length} tensors are not part of the layout and were not converted: ${model.unused.join(', ')}`);
  const plan =
    threads === 0
      ? format.plan(model, options, inputFolder(checkpoint.dir))
      : await planInWorker({ format: format.id, model, options, inputDir: checkpoint.dir });

  refuseOutputOverInput(checkpoint.dir, opts.outputDir);
  const out = OutputTransaction.begin(opts.outputDir, opts.force ?? false);
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
    const jobs = plan.jobs.map((job): RunnableJob => ({ job, dir: out.tempDir, options, progress: counter.buffer }));
    const bytesTotal = plan.jobs.reduce((sum, j) => sum + j.cost.bytes, 0);
    const tensorsTotal = plan.jobs.reduce((sum, j) => sum + j.cost.tensors, 0);
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
    for (const c of plan.containers) written.push({ name: c.file, ...hashers.get(c.file)!.finish() });
    for (const f of format.finish(model, options, inputFolder(checkpoint.dir))) written.push(writeSmall(out.tempDir, f.name, f.bytes));
    const inputBytes = checkpoint.files.reduce((s, f) => s + f.fileSize, 0);
    const manifest = manifestOf(format, model, options, written, {
      folder: basename(checkpoint.dir),
      files: [checkpoint.configPath, ...(checkpoint.indexPath ? [checkpoint.indexPath] : []), ...files].map((f) => relative(checkpoint.dir, f)),
      bytes: inputBytes,
    });
    const manifestFile = writeSmall(out.tempDir, 'manifest.json', jsonBytes(manifest));
    out.commit();
    return {
      outputDir: out.target,
      format: format.id,
      layout: model.layout,
      files: [...written, manifestFile],
      bytesRead: counter.read().bytesRead,
      inputBytes,
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
