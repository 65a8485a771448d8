// Shared by the formats that write one safetensors file: every offset follows from the tensors'
// dtypes and shapes, so the header is encoded before any data is read and the jobs fill their
// tensors' regions of the preallocated file in parallel.

import { DTYPE_SIZE, encodeSafetensorsHeader, writerOrder, type DType } from '../formats/safetensors.js';
import { f32ToBf16, f32ToF16 } from '../quant/floats.js';
import type { FloatDType } from '../quant/rule.js';
import type { Container } from './types.js';

export interface StTensor {
  name: string;
  dtype: DType;
  shape: number[];
}

export interface StLayout {
  container: Container;
  /** Absolute offset of a tensor's data in the file. */
  at(name: string): number;
  /** Data bytes of a tensor. */
  bytesOf(name: string): number;
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
    bytesOf: (name) => get(sizes, name),
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
