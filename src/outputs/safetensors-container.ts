// Shared by the formats that write one safetensors file: every offset follows from the tensors'
// dtypes and shapes, so the header is encoded before any data is read and the jobs fill their
// tensors' regions of the preallocated file in parallel.

import { DTYPE_SIZE, encodeSafetensorsHeader, writerOrder, type DType } from '../formats/safetensors.js';
import { f32ToBf16, f32ToF16 } from '../quant/floats.js';
import type { FloatDType } from '../quant/rule.js';
import type { FloatTensor, FloatWeight, Weight } from '../model/plan.js';
import { readCost, type StreamOptions, type WeightStream } from '../stream/weights.js';
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

/** Lays out the container and makes one job per group of entries (its cost, its regions for hashing). */
export function planContainer<E extends Entry>(format: string, file: string, groups: E[][], order: 'writer' | 'name', o: StreamOptions, metadata?: Record<string, string>): FormatPlan<Placed<E>[]> {
  const st = layoutSafetensors(file, groups.flat().flatMap((e) => e.tensors), order, metadata);
  const jobs = groups.map((g) => {
    const weights = g.flatMap((e) => e.weights);
    return {
      format,
      file,
      cost: { bytes: weights.reduce((n, w) => n + readCost(w, o), 0), tensors: weights.length },
      part: g.map((e) => ({ ...e, at: e.tensors.map((t) => st.at(t.name)) })),
      regions: st.regions(g.flatMap((e) => e.tensors.map((t) => t.name))),
    };
  });
  return { jobs, containers: [st.container] };
}

/** A float tensor written as stored (`source`) or converted, under `name` with `shape`. */
export type FloatEntry = Entry & { kind: 'floats'; as: 'source' | FloatDType };

export function floatEntry(name: string, weight: FloatWeight | { kind: 'float'; tensor: FloatTensor }, as: 'source' | FloatDType, shape: number[]): FloatEntry {
  const dtype = as === 'source' ? weight.tensor.dtype : as;
  return { kind: 'floats', tensors: [{ name, dtype, shape }], weights: [weight], as };
}

export function writeFloatEntry(s: WeightStream, out: JobOutput, e: Placed<FloatEntry>): void {
  const sink = out.sink(e.at[0]);
  s.floats((e.weights[0] as FloatWeight).tensor, e.as, (bytes) => sink.write(bytes));
}
