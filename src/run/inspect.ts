// `inspect PATH`: what a model folder holds. An output folder (manifest.json) is read back with its
// format's reader, a tensor and a row range at a time; an input checkpoint is planned by its layout
// and its ternary weights are streamed through the weight stream on worker threads (the reference rule
// for master weights, decoded codes for packed ones), one weight at a time per thread, so memory stays
// bounded. A .gguf file is read with the GGUF reader.

import { existsSync, lstatSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { availableParallelism } from 'node:os';
import { compileKernels } from '../kernels/index.js';
import { ternaryStatsOf } from './stats-worker.js';
import { outputStatsOf, outputTensors, type OutputRef } from './output-stats-worker.js';
import { openCheckpoint, type Checkpoint } from '../io/checkpoint.js';
import { openCheckpointFolder } from '../model/checkpoint.js';
import { isHubInput, openHubInput, parseHubRef, type HubOptions } from '../hub/repo.js';
import { serveHub } from '../io/hub-reader.js';
import { readManifest, verifyManifest } from '../io/converted.js';
import { interruptedReplace } from '../io/output-dir.js';
import { planRoles, roleWeights, type TensorRole, type TernaryWeight, type Weight } from '../model/plan.js';
import { planModel } from '../pipeline/conversion.js';
import type { TernaryStats } from '../inspect/stats.js';
import { DEFAULTS } from '../defaults.js';
import type { QuantRule } from '../quant/rule.js';

export interface InspectedTensor {
  name: string;
  /** What it holds: from the layout's plan (an input) or the format's reader (an output). */
  role?: TensorRole;
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
  /** An input whose projections are stored packed (their codes and scales are copied, not computed). */
  packed?: boolean;
  format?: string;
  config?: Record<string, unknown>;
  tensors: InspectedTensor[];
}

/** `layout`: the input layout of a checkpoint, by id (needed for one never detected, llama-latent); outputs ignore it. */
export async function inspect(path: string, o: { rule?: QuantRule; threads?: number; layout?: string; hub?: HubOptions } = {}): Promise<Inspection> {
  if (isHubInput(path)) return inspectHub(path, o.rule ?? DEFAULTS.rule, o.threads, o.hub, o.layout);
  const isFile = existsSync(path) && statSync(path).isFile();
  // a .gguf beside no manifest.json is a source (layout gguf: its config and ternary statistics); ours is an output
  if (isFile && path.endsWith('.gguf') && !existsSync(join(dirname(path), 'manifest.json'))) return inspectCheckpoint(path, o.rule ?? DEFAULTS.rule, o.threads);
  if (isFile && path.endsWith('.gguf')) {
    const file = realpathSync(path); // the user named it: a symlink to it is theirs (the output folder's reads follow none)
    return { path, kind: 'output', format: 'gguf', tensors: await described({ format: 'gguf', dir: dirname(file), file: basename(file) }, o.threads) };
  }
  if (!existsSync(path)) interruptedReplace(path); // throws when a replace of this output was interrupted
  if (existsSync(join(path, 'manifest.json')) || lstatOrUndefined(join(path, 'manifest.json'))) {
    const manifest = readManifest(path);
    verifyManifest(path, manifest);
    return { path, kind: 'output', format: manifest.format, tensors: await described({ format: manifest.format, dir: path }, o.threads) };
  }
  return inspectCheckpoint(path, o.rule ?? DEFAULTS.rule, o.threads, o.layout);
}

function lstatOrUndefined(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/**
 * An output's tensors: listed here with the format's reader, their ternary values decoded and counted
 * on worker threads (a share of the tensors each, one tensor and a row range at a time: memory bounded).
 */
/**
 * Threads that decode an output by default: none (this thread). Two decoding threads made inspect of a
 * 2B-4T bitnet-rs output 1.06x its conversion but peaked at 276 MiB, past the 256 MiB bound; inline it
 * peaks at 151 MiB (7.2 s on a busy machine). Callers may ask for threads (`inspect(path, { threads })`).
 */
const OUTPUT_THREADS = 0;

async function described(output: OutputRef, threads = OUTPUT_THREADS): Promise<InspectedTensor[]> {
  const tensors: InspectedTensor[] = [];
  const ternary: { index: number; file: string; name: string; values: number }[] = [];
  for (const t of outputTensors(output)) {
    if (t.ternary) ternary.push({ index: tensors.length, file: t.file, name: t.name, values: t.ternary.rows * t.ternary.cols });
    tensors.push({ name: t.name, ...(t.role !== undefined && { role: t.role }), dtype: t.dtype, shape: t.shape });
  }
  (await outputStatsOf(output, ternary, threads)).forEach((stats, k) => (tensors[ternary[k].index].ternary = stats));
  return tensors;
}

async function inspectCheckpoint(dir: string, rule: QuantRule, threads?: number, layout?: string): Promise<Inspection> {
  const { module } = await compileKernels(DEFAULTS.kernels);
  return checkpointInspection(dir, async (weights) => {
    const stats = await ternaryStatsOf(weights, { module, rule, threads: threads ?? availableParallelism() });
    return new Map(weights.map((w, i) => [w.tensor.name, stats[i]]));
  }, layout);
}

/** A model on the Hugging Face Hub, read as a conversion reads it: headers read ahead, tensors by range requests. */
async function inspectHub(path: string, rule: QuantRule, threads: number | undefined, o: HubOptions = {}, layout?: string): Promise<Inspection> {
  const h = await openHubInput(parseHubRef(path), o);
  const { module } = await compileKernels(DEFAULTS.kernels);
  const n = threads ?? availableParallelism();
  const served = n > 0 ? serveHub(h.reads, n) : undefined; // this thread serves the statistics threads' reads (io/hub-reader.ts)
  const hub = { ...h.reads, key: `inspect-${h.repo.sha}-${Date.now()}-${Math.random()}`, ...(served && { channels: served.channels }) };
  try {
    return await checkpointInspection(openCheckpointFolder(h.folder), async (weights) => {
      const stats = await ternaryStatsOf(weights, { module, rule, threads: n, hub });
      return new Map(weights.map((w, i) => [w.tensor.name, stats[i]]));
    }, layout);
  } finally {
    await served?.stop();
  }
}

/**
 * An input checkpoint's inspection with the ternary statistics `statsOf` gives for its ternary weights
 * (by tensor name; the tied head, the embedding ternarized, under the embedding's name): inspect computes
 * them, a conversion with `stats` has them already (the report then costs no second pass). `layout`: the
 * input layout by id, as a conversion takes it (default: detected).
 */
export async function checkpointInspection(input: string | Checkpoint, statsOf: (weights: TernaryWeight[]) => Promise<Map<string, TernaryStats>>, layout?: string): Promise<Inspection> {
  const ck = typeof input === 'string' ? openCheckpoint(input) : input;
  const dir = ck.dir;
  const plan = planModel(ck, () => {}, layout); // what inspect shows includes what a conversion would warn about
  const roles = new Map<string, { role: TensorRole; weight: Weight }>();
  for (const [role, weight] of planRoles(plan)) if (!roles.has(weight.tensor.name)) roles.set(weight.tensor.name, { role, weight });
  const ternary = [...ck.tensors.keys()].filter((name) => roles.get(name) && roles.get(name)!.weight.kind !== 'float');
  const weights = ternary.map((name) => roles.get(name)!.weight as TernaryWeight);
  if (plan.outputTied) weights.push(plan.output as TernaryWeight); // the tied head: the embedding ternarized with the same rule
  const byName = await statsOf(weights);
  const tensors: InspectedTensor[] = [];
  for (const [name, t] of ck.tensors) {
    const r = roles.get(name);
    // a GGUF's tensors by their ggml type (I2_S, Q2_0, ...), not the bytes' U8
    tensors.push({ name, role: r?.role, dtype: ck.gguf?.types.get(name) ?? t.dtype, shape: t.storedShape, bytes: t.byteLength, ternary: r?.weight.kind === 'float' ? undefined : byName.get(name) });
  }
  const head = plan.outputTied && byName.get(plan.tokenEmbd.tensor.name);
  if (head) {
    const t = plan.tokenEmbd.tensor;
    tensors.push({ name: `${t.name} (tied output head)`, role: 'output', dtype: t.dtype, shape: t.storedShape, ternary: head });
  }
  const packed = plan.blocks.some((b) => b.attn_q.kind === 'packed');
  return { path: dir, kind: 'input', layout: plan.layout, packed, config: ck.config, tensors };
}
