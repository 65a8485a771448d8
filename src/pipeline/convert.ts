// The conversion, start to end: open and check the checkpoint, plan one job per output
// file, run the jobs on the worker pool into a temporary folder, add the small files
// (metadata, config, manifest) and move the folder into place.

import { availableParallelism } from 'node:os';
import { existsSync, realpathSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import type { BincodeFlavor } from '../formats/bincode.js';
import { encode, writeMetadata, type ModelMetadata } from '../formats/records.js';
import type { TensorInfo } from '../formats/safetensors.js';
import { compileKernels } from '../kernels/index.js';
import { openCheckpoint } from '../io/checkpoint.js';
import { FileSink } from '../io/file-sink.js';
import { OutputTransaction } from '../io/output-dir.js';
import { parseModelConfig } from '../model/config.js';
import { planModel, type ModelPlan } from '../model/layout.js';
import type { ScaleGranularity } from '../quant/rule.js';
import { OutputError, UsageError } from '../errors.js';
import { VERSION } from '../version.js';
import type { PartOptions, PartTask } from './parts.js';
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

export interface OutputFile {
  name: string;
  bytes: number;
  sha256: string;
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
    const manifest = {
      converter: { name: 'bitnet-converter', version: VERSION },
      format: 'bitnet-rs',
      conversion_timestamp: timestamp,
      options: { bincode: partOptions.bincode, scale_granularity: partOptions.granularity },
      source: {
        folder: basename(checkpoint.dir),
        files: [checkpoint.configPath, ...(checkpoint.indexPath ? [checkpoint.indexPath] : []), ...files].map((f) => ({
          name: relative(checkpoint.dir, f),
        })),
        tensor_bytes: inputBytes,
      },
      lm_head: plan.lmHead.tied ? 'tied: model.embed_tokens.weight ternarized with the reference rule' : 'lm_head.weight',
      files: written,
    };
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

/** One job per output file, in file order (the pool starts the largest first). */
export function planJobs(plan: ModelPlan): PartTask[] {
  const tasks: PartTask[] = [
    { kind: 'embedding', file: 'embedding.bin', tensor: plan.embedding },
    {
      kind: 'lm_head',
      file: 'lm_head.bin',
      linear: { parts: [plan.lmHead.tensor], inFeatures: plan.config.hiddenSize, outFeatures: plan.config.vocabSize },
    },
    { kind: 'norm', file: 'norm.bin', tensor: plan.norm },
  ];
  for (const block of plan.blocks) tasks.push({ kind: 'block', file: `block_${block.index}.bin`, block });
  return tasks;
}

/** The input tensors a task reads: those it ternarizes and those it copies as f32. */
export function tensorsOf(task: PartTask): { ternary: TensorInfo[]; float: TensorInfo[] } {
  switch (task.kind) {
    case 'embedding':
    case 'norm':
      return { ternary: [], float: [task.tensor] };
    case 'lm_head':
      return { ternary: task.linear.parts, float: [] };
    case 'block': {
      const b = task.block;
      return {
        ternary: [...b.wqkv.parts, ...b.oProj.parts, ...b.w13.parts, ...b.w2.parts],
        float: [b.attentionNorm, b.ffnNorm, b.attnSubNorm, b.ffnSubNorm],
      };
    }
  }
}

/** Input bytes a task reads: per-projection scales read a projection too large to hold twice. */
export function bytesToRead(task: PartTask, options: PartOptions): number {
  const passes = (t: TensorInfo) => (options.granularity === 'projection' && t.byteLength > options.holdBytes ? 2 : 1);
  const { ternary, float } = tensorsOf(task);
  return ternary.reduce((sum, t) => sum + t.byteLength * passes(t), 0) + float.reduce((sum, t) => sum + t.byteLength, 0);
}

/** The input config, marked as packed, with a description of the files for loaders. */
function outputConfig(plan: ModelPlan, o: PartOptions): Record<string, unknown> {
  return {
    ...plan.config.raw,
    bitnet_packed: true,
    bitnet_layout: {
      format: 'bitnet-rs',
      converter: `bitnet-converter ${VERSION}`,
      bincode: o.bincode === 'standard' ? 'bincode 2 config::standard() (varint integers)' : 'bincode 1 / config::legacy() (fixed-width integers)',
      files: {
        'embedding.bin': 'EmbeddingRecord { weight: Vec<f32>, shape: [vocab_size, hidden_size] }',
        'norm.bin': 'RmsNormRecord { weight: Vec<f32>, shape: [1, hidden_size] }',
        'lm_head.bin': 'BitLinearRecord',
        'block_<i>.bin': 'TransformerBlockRecord { attention { wqkv = q|k|v, o_proj }, feed_forward { w13 = gate|up, w2 = down }, attention_norm, ffn_norm, attn_sub_norm, ffn_sub_norm }',
        'metadata.bin': 'ModelMetadata { num_layers, vocab_size, hidden_size, conversion_timestamp }',
      },
      packing: '16 ternary values per u32, value i at bits 2i..2i+1: +1 = 01, -1 = 10, 0 = 00; each row starts on a new word',
      scale_granularity: o.granularity === 'projection' ? 'per projection (q, k, v, o, gate, up, down), repeated per row' : 'per row (seed scheme, not the reference rule)',
      lm_head_tied: plan.lmHead.tied,
      lm_head: plan.lmHead.tied ? 'the embedding ternarized with the same rule' : 'lm_head.weight ternarized',
    },
  };
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
