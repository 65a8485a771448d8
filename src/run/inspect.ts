// `inspect PATH`: what a model folder holds. An output folder (manifest.json) is read back with its
// format's reader, a tensor and a row range at a time; an input checkpoint is planned by its layout and its ternary weights are streamed
// through the weight stream (the reference rule for master weights, decoded codes for packed ones),
// one weight at a time, so memory stays bounded. A .gguf file is read with the GGUF reader.

import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { compileKernels, instantiateKernels } from '../kernels/index.js';
import { openCheckpoint } from '../io/checkpoint.js';
import { outputFolder, readManifest, verifyManifest } from '../io/converted.js';
import { PositionedReader } from '../io/read.js';
import { planCheckpoint } from '../layouts/index.js';
import { parseModelConfig } from '../model/config.js';
import { BLOCK_ROLES, type Weight } from '../model/plan.js';
import { formatById, type LazyTensor } from '../outputs/index.js';
import { TernaryCounter, type TernaryStats } from '../inspect/stats.js';
import { WeightStream } from '../stream/weights.js';
import { DEFAULTS } from '../defaults.js';
import type { QuantRule } from '../quant/rule.js';

export interface InspectedTensor {
  name: string;
  role?: string;
  dtype: string;
  shape: number[];
  bytes?: number;
  ternary?: TernaryStats;
}

export interface Inspection {
  path: string;
  /** 'input' (a checkpoint the converter reads) or 'output' (a folder or file it wrote). */
  kind: 'input' | 'output';
  /** The input layout or the output format. */
  layout?: string;
  format?: string;
  config?: Record<string, unknown>;
  tensors: InspectedTensor[];
}

export async function inspect(path: string, o: { rule?: QuantRule } = {}): Promise<Inspection> {
  const isFile = existsSync(path) && statSync(path).isFile();
  if (isFile && path.endsWith('.gguf')) {
    const dir = dirname(path);
    const tensors = formatById('gguf').tensors({ ...outputFolder(dir), list: () => [basename(path)] });
    return { path, kind: 'output', format: 'gguf', tensors: [...tensors].map(described) };
  }
  if (existsSync(join(path, 'manifest.json'))) {
    const manifest = readManifest(path);
    verifyManifest(path, manifest);
    // one tensor at a time, its values a row range at a time: memory bounded on 2B+ outputs
    const tensors: InspectedTensor[] = [];
    for (const t of formatById(manifest.format).tensors(outputFolder(path))) tensors.push(described(t));
    return { path, kind: 'output', format: manifest.format, tensors };
  }
  return inspectCheckpoint(path, o.rule ?? DEFAULTS.rule);
}

function described(t: LazyTensor): InspectedTensor {
  if (!t.ternary) return { name: t.name, dtype: t.dtype, shape: t.shape };
  const { rows, rowsPerChunk, rowScales } = t.ternary;
  const c = new TernaryCounter(rows, t.ternary.cols);
  for (let r = 0; r < rows; r += rowsPerChunk) {
    const n = Math.min(rowsPerChunk, rows - r);
    c.add(t.ternary.decode(r, n), n, rowScales.subarray(r, r + n));
  }
  return { name: t.name, dtype: t.dtype, shape: t.shape, ternary: c.result() };
}

async function inspectCheckpoint(dir: string, rule: QuantRule): Promise<Inspection> {
  const ck = openCheckpoint(dir);
  const config = parseModelConfig(ck.config, ck.configPath);
  const plan = planCheckpoint({ config, tensors: ck.tensors, files: ck.files.map((f) => f.file), configPath: ck.configPath });
  const roles = new Map<string, { role: string; weight: Weight }>();
  const add = (role: string, w: Weight | undefined) => w && !roles.has(w.tensor.name) && roles.set(w.tensor.name, { role, weight: w });
  add('token_embd', plan.tokenEmbd);
  add('output_norm', plan.outputNorm);
  add('output', plan.output);
  for (const b of plan.blocks) for (const r of BLOCK_ROLES) add(`blk.${b.index}.${r}`, b[r]);
  const kernels = await instantiateKernels((await compileKernels(DEFAULTS.kernels)).module);
  const reader = new PositionedReader();
  try {
    const stream = new WeightStream({
      kernels,
      source: reader,
      options: { rule, granularity: 'projection', chunkBytes: DEFAULTS.chunkBytes, holdBytes: DEFAULTS.holdBytes },
      onBytesRead: () => {},
      onTensorDone: () => {},
    });
    const tensors: InspectedTensor[] = [];
    for (const [name, t] of ck.tensors) {
      const r = roles.get(name);
      const out: InspectedTensor = { name, role: r?.role, dtype: t.dtype, shape: t.storedShape, bytes: t.byteLength };
      if (r && r.weight.kind !== 'float') out.ternary = ternaryStats(stream, r.weight);
      tensors.push(out);
    }
    if (plan.outputTied) {
      // the tied head is the embedding ternarized with the same rule
      const t = plan.tokenEmbd.tensor;
      tensors.push({ name: `${t.name} (tied output head)`, role: 'output', dtype: t.dtype, shape: t.storedShape, ternary: ternaryStats(stream, plan.output as Exclude<Weight, { kind: 'float' }>) });
    }
    return { path: dir, kind: 'input', layout: plan.layout, config: ck.config, tensors };
  } finally {
    reader.close();
  }
}

function ternaryStats(stream: WeightStream, w: Exclude<Weight, { kind: 'float' }>): TernaryStats {
  const t = stream.ternary(w);
  const c = new TernaryCounter(t.rows, t.cols);
  const scale = new Float32Array(t.rowsPerChunk).fill(t.scaleAs('F32'));
  for (let r = 0; r < t.rows; r += t.rowsPerChunk) {
    const n = Math.min(t.rowsPerChunk, t.rows - r);
    t.i8(r, n, t.i8Buffer);
    c.add(stream.kernels.i8(t.i8Buffer, n * t.cols), n, scale);
  }
  t.done();
  return c.result();
}
