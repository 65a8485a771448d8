// Shared by the formats that write one safetensors file: every offset follows from the tensors'
// dtypes and shapes, so the header is encoded before any data is read and the jobs fill their
// tensors' regions of the preallocated file in parallel.

import { DTYPE_SIZE, encodeSafetensorsHeader, writerOrder, type DType } from '../formats/safetensors.js';
import { f32ToBf16, f32ToF16 } from '../quant/floats.js';
import type { FloatDType } from '../quant/rule.js';
import type { FloatTensor, FloatWeight, Weight } from '../model/plan.js';
import { readCost, type StreamOptions, type WeightStream } from '../stream/weights.js';
import { DEFAULTS } from '../defaults.js';
import type { Container, FormatPlan, JobOutput } from './types.js';

export interface StTensor {
  name: string;
  dtype: DType;
  shape: number[];
}

export interface StLayout {
  container: Container;
  /** Absolute offset of a tensor's data in the file. */
  at(name: string): number;
  /** The byte ranges of the named tensors, for a job's `regions`. */
  regions(names: string[]): { offset: number; bytes: number }[];
}

/**
 * Lays the tensors out: `writer` order is the safetensors crate's (descending dtype, then name: every
 * tensor aligned to its element size, as loaders that cast mapped bytes need), `name` order sorts by
 * name only (what the golden file of Microsoft's GPU layout has).
 */
export function layoutSafetensors(file: string, tensors: StTensor[], order: 'writer' | 'name', metadata?: Record<string, string>): StLayout {
  const sorted = [...tensors].sort(order === 'writer' ? writerOrder : (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header = encodeSafetensorsHeader(sorted, metadata);
  const offsets = new Map(sorted.map((t, i) => [t.name, header.bytes.length + header.offsets[i]]));
  const sizes = new Map(sorted.map((t) => [t.name, t.shape.reduce((a, b) => a * b, 1) * DTYPE_SIZE[t.dtype]]));
  const get = <T>(m: Map<string, T>, name: string): T => {
    const v = m.get(name);
    if (v === undefined) throw new Error(`internal: no tensor ${name} in the ${file} layout`);
    return v;
  };
  return {
    container: { file, head: header.bytes, bytes: header.bytes.length + header.dataLength },
    at: (name) => get(offsets, name),
    regions: (names) => names.map((name) => ({ offset: get(offsets, name), bytes: get(sizes, name) })),
  };
}

/** One value in a float dtype, little-endian. */
export function scaleBytes(v: number, dtype: FloatDType): Uint8Array {
  const out = new Uint8Array(DTYPE_SIZE[dtype]);
  const view = new DataView(out.buffer);
  if (dtype === 'F32') view.setFloat32(0, v, true);
  else view.setUint16(0, dtype === 'BF16' ? f32ToBf16(v) : f32ToF16(v), true);
  return out;
}

/** What a container job writes at once: one or more tensors (weights and their scale) from `weights`. */
export interface Entry {
  kind: string;
  tensors: StTensor[];
  weights: Weight[];
}

/** An entry as a worker gets it: with the file offset of each of its tensors. */
export type Placed<E extends Entry> = E & { at: number[] };

/**
 * Lays out the container and makes one job per group of entries (its cost, its regions for hashing). A
 * float tensor read in more than `o.pieceBytes` (an embedding, an untied head) is written by several jobs
 * of whole rows: the container's hash follows the pieces as they land, where one job of 656 MB held back
 * the hash of everything after it (docs/performance.md, "hf-packed from a .gguf, again").
 */
export function planContainer<E extends Entry>(format: string, file: string, groups: E[][], order: 'writer' | 'name', o: StreamOptions, metadata?: Record<string, string>): FormatPlan<Placed<E>[]> {
  const st = layoutSafetensors(file, groups.flat().flatMap((e) => e.tensors), order, metadata);
  const jobs = groups.flatMap((g) => {
    const weights = g.flatMap((e) => e.weights);
    const bytes = weights.reduce((n, w) => n + readCost(w, o), 0);
    const e = g[0];
    const rows = (e.weights[0] as FloatWeight | undefined)?.tensor.shape[0] ?? 0;
    const pieces = g.length === 1 && e.kind === 'floats' && e.tensors[0].shape.length === 2 ? Math.min(rows, Math.ceil(bytes / (o.pieceBytes ?? DEFAULTS.pieceBytes))) : 1;
    if (pieces <= 1) {
      return [{ format, file, cost: { bytes, tensors: weights.length }, part: g.map((x) => ({ ...x, at: x.tensors.map((t) => st.at(t.name)) })), regions: st.regions(g.flatMap((x) => x.tensors.map((t) => t.name))) }];
    }
    // rows [first, end) of the tensor as the job's own region; the tensor counts as done with its last piece
    const [region] = st.regions([e.tensors[0].name]);
    const rowBytes = region.bytes / rows;
    const per = Math.ceil(rows / pieces);
    return Array.from({ length: Math.ceil(rows / per) }, (_, i) => {
      const [first, end] = [i * per, Math.min(rows, (i + 1) * per)];
      const at = region.offset + first * rowBytes;
      return { format, file, cost: { bytes: (bytes * (end - first)) / rows, tensors: end === rows ? 1 : 0 }, part: [{ ...g[0], rows: [first, end] as [number, number], at: [at] }], regions: [{ offset: at, bytes: (end - first) * rowBytes }] };
    });
  });
  return { jobs, containers: [st.container] };
}

/** A float tensor written as stored (`source`) or converted, under `name` with `shape`; `rows`: a piece of it, rows [first, end). */
export type FloatEntry = Entry & { kind: 'floats'; as: 'source' | FloatDType; rows?: [number, number] };

export function floatEntry(name: string, weight: FloatWeight | { kind: 'float'; tensor: FloatTensor }, as: 'source' | FloatDType, shape: number[]): FloatEntry {
  const dtype = as === 'source' ? weight.tensor.dtype : as;
  return { kind: 'floats', tensors: [{ name, dtype, shape }], weights: [weight], as };
}

export function writeFloatEntry(s: WeightStream, out: JobOutput, e: Placed<FloatEntry>): void {
  const sink = out.sink(e.at[0]);
  s.floats((e.weights[0] as FloatWeight).tensor, e.as, (bytes) => sink.write(bytes), e.rows);
}
