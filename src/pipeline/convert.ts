// The conversion, start to end: open and check the checkpoint, plan one job per output
// file, run the jobs on the worker pool into a temporary folder, add the small files
// (metadata, config, manifest) and move the folder into place.

import { availableParallelism } from 'node:os';
import { existsSync, realpathSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import type { BincodeFlavor } from '../formats/bincode.js';
import { encode, writeMetadata, type ModelMetadata } from '../formats/records.js';
import { compileKernels } from '../kernels/index.js';
import { openCheckpoint } from '../io/checkpoint.js';
import { FileSink } from '../io/file-sink.js';
import { OutputTransaction } from '../io/output-dir.js';
import { parseModelConfig } from '../model/config.js';
import { planModel } from '../model/layout.js';
import type { QuantRule, ScaleGranularity } from '../quant/rule.js';
import { OutputError, UsageError } from '../errors.js';
import type { PartOptions } from './parts.js';
import { bytesToRead, planJobs, tensorsOf } from './jobs.js';
export { planJobs } from './jobs.js';
import { manifestOf, outputConfig, type OutputFile } from './describe-output.js';
export type { OutputFile } from './describe-output.js';
import { runJobs } from './pool.js';
import { ProgressCounter, type ProgressSnapshot } from './progress-counter.js';
import type { PartJob, PartResult } from './run-part.js';

export interface ConvertOptions {
  inputDir: string;
  outputDir: string;
  /** Replace an existing output folder (only after success). */
  force?: boolean;
  /** Worker threads; 0 runs everything on the calling thread. Default: available parallelism. */
  threads?: number;
  bincode?: BincodeFlavor;
  granularity?: ScaleGranularity;
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

export const DEFAULT_CHUNK_BYTES = 4 << 20;
/** Holds every projection of the 2B-4T model (the largest, gate/up, is 35 MB in BF16). */
export const DEFAULT_HOLD_BYTES = 64 << 20;

export async function convert(opts: ConvertOptions): Promise<ConvertSummary> {
  const started = performance.now();
  const threads = opts.threads ?? availableParallelism();
  if (!Number.isSafeInteger(threads) || threads < 0) throw new UsageError(`--threads: expected a whole number >= 0, found ${opts.threads}`);
  const partOptions: PartOptions = {
    bincode: opts.bincode ?? 'standard',
    granularity: opts.granularity ?? 'projection',
    rule: opts.rule ?? 'offline',
    chunkBytes: opts.chunkBytes ?? DEFAULT_CHUNK_BYTES,
    holdBytes: opts.holdBytes ?? DEFAULT_HOLD_BYTES,
  };
  const timestamp = opts.timestamp ?? defaultTimestamp();
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
  const plan = planModel(config, checkpoint.tensors, files);
  if (plan.unusedTensors.length) warn(`${plan.unusedTensors.length} tensors are not part of the layout and were not converted: ${plan.unusedTensors.join(', ')}`);

  refuseOutputOverInput(checkpoint.dir, opts.outputDir);
  const out = OutputTransaction.begin(opts.outputDir, opts.force ?? false);
  try {
    const { module, flavor } = await compileKernels(opts.kernels ?? 'auto');
    const counter = new ProgressCounter();
    const tasks = planJobs(plan);
    const jobs = tasks.map((task): PartJob => ({ task, dir: out.tempDir, options: partOptions, progress: counter.buffer }));
    const bytesTotal = tasks.reduce((sum, t) => sum + bytesToRead(t, partOptions), 0);
    const tensorsTotal = tasks.map(tensorsOf).reduce((sum, t) => sum + t.ternary.length + t.float.length, 0);
    const report = () => opts.onProgress?.({ ...counter.read(), bytesTotal, tensorsTotal });
    const timer = opts.onProgress ? setInterval(report, 200) : undefined;
    let results: PartResult[];
    try {
      results = await runJobs(jobs, { threads, module, weight: (j) => bytesToRead(j.task, partOptions) });
    } finally {
      if (timer) clearInterval(timer);
    }
    report();

    const metadata: ModelMetadata = {
      numLayers: config.numLayers,
      vocabSize: config.vocabSize,
      hiddenSize: config.hiddenSize,
      conversionTimestamp: timestamp,
    };
    const small = [
      writeSmall(out.tempDir, 'metadata.bin', encode(writeMetadata, metadata, partOptions.bincode)),
      writeSmall(out.tempDir, 'config.json', json(outputConfig(plan, partOptions))),
    ];
    const written: OutputFile[] = [...results, ...small].map((r) => ({ name: r.file, bytes: r.bytes, sha256: r.sha256 }));
    const inputBytes = checkpoint.files.reduce((s, f) => s + f.fileSize, 0);
    const manifest = manifestOf(plan, partOptions, timestamp, written, {
      folder: basename(checkpoint.dir),
      files: [checkpoint.configPath, ...(checkpoint.indexPath ? [checkpoint.indexPath] : []), ...files].map((f) => relative(checkpoint.dir, f)),
      bytes: inputBytes,
    });
    const manifestFile = writeSmall(out.tempDir, 'manifest.json', json(manifest));
    out.commit();
    return {
      outputDir: out.target,
      files: [...written, { name: manifestFile.file, bytes: manifestFile.bytes, sha256: manifestFile.sha256 }],
      bytesRead: counter.read().bytesRead,
      inputBytes,
      seconds: (performance.now() - started) / 1000,
      kernels: flavor,
      threads,
      tiedLmHead: plan.lmHead.tied,
      warnings,
    };
  } catch (e) {
    out.abort();
    throw e;
  }
}

function writeSmall(dir: string, file: string, bytes: Uint8Array): PartResult {
  const sink = new FileSink(join(dir, file));
  sink.write(bytes);
  return { file, ...sink.close() };
}

function json(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value, null, 2) + '\n');
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
