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
import { openCheckpoint } from '../io/checkpoint.js';
import { openCheckpointFolder } from '../model/checkpoint.js';
import { isHubInput, openHubInput, parseHubRef, type HubOptions } from '../hub/repo.js';
import { serveHub } from '../io/hub-reader.js';
import { readManifest, verifyManifest } from '../io/converted.js';
import { interruptedReplace } from '../io/output-dir.js';
import { checkpointInspection, type InspectedTensor, type Inspection } from '../inspect/inspection.js';
import { DEFAULTS } from '../defaults.js';
import type { QuantRule } from '../quant/rule.js';

export type { InspectedTensor, Inspection } from '../inspect/inspection.js';

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
  return checkpointInspection(openCheckpoint(dir), async (weights) => {
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
