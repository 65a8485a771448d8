// Shared by the formats' readers: the files of an output folder and the tensors of a safetensors file.

import { CorruptFileError } from '../errors.js';
import { parseHeader, readHeaderLength, type TensorInfo } from '../formats/safetensors.js';
import { bf16ToF32, f16ToF32 } from '../quant/floats.js';
import type { TensorRole } from '../model/plan.js';
import { roleOfName, type TensorNames } from './tensor-names.js';
import type { LazyTensor, OutputFolder, ReadTensor, TernaryRows } from './types.js';

export function need(folder: OutputFolder, name: string): Uint8Array {
  const bytes = folder.read(name);
  if (!bytes) throw new CorruptFileError({ file: name }, 'the file in the output folder', 'no such file');
  return bytes;
}

/** The size of a file of the output folder (a typed error when there is none). */
export function sizeOf(folder: OutputFolder, name: string): number {
  const size = folder.size ? folder.size(name) : folder.read(name)?.length;
  if (size === undefined) throw new CorruptFileError({ file: name }, 'the file in the output folder', 'no such file');
  return size;
}

/**
 * Exactly `length` bytes of a file from `offset`, by a positioned read where the folder has one (into
 * `into` when given and large enough: a view of it); a short file is a typed error.
 */
export function readRange(folder: OutputFolder, name: string, offset: number, length: number, into?: Uint8Array): Uint8Array {
  const bytes = folder.readAt ? folder.readAt(name, offset, length, into) : need(folder, name).subarray(offset, offset + length);
  if (bytes.length !== length) throw new CorruptFileError({ file: name }, `${length} bytes at offset ${offset}`, `truncated: ${bytes.length} of them`);
  return bytes;
}

/** About this many values are decoded at a time. */
const CHUNK_VALUES = 1 << 22;

/** Rows per decoded chunk for rows of `cols` values, a multiple of `multiple`. */
export function chunkRows(rows: number, cols: number, multiple = 1): number {
  const n = Math.max(multiple, Math.floor(CHUNK_VALUES / Math.max(1, cols) / multiple) * multiple);
  return Math.min(n, Math.max(rows, 1));
}

/** The bytes a check reads a chunk into, shared by every tensor's check (nothing keeps them after it): no garbage per chunk. */
let checkBuffer: Uint8Array | undefined;

/**
 * A ternary tensor whose rows are stored in order: `bytesOf(row, count)` reads the stored bytes of a row
 * range, `unpack` decodes them (throwing on a bad code with its index in the tensor), `bad` tells fast
 * whether a range holds a bad code (the check then decodes it to name it; without `bad`, the check decodes).
 */
export function storedRows(o: {
  rows: number;
  cols: number;
  rowScales: Float32Array;
  multiple?: number;
  bytesOf: (row: number, count: number, into?: Uint8Array) => Uint8Array;
  unpack: (bytes: Uint8Array, row: number, count: number) => Int8Array;
  bad?: (bytes: Uint8Array) => boolean;
}): TernaryRows {
  const rowsPerChunk = chunkRows(o.rows, o.cols, o.multiple);
  return {
    rows: o.rows,
    cols: o.cols,
    rowScales: o.rowScales,
    rowsPerChunk,
    decode: (row, count) => o.unpack(o.bytesOf(row, count), row, count),
    check() {
      for (let r = 0; r < o.rows; r += rowsPerChunk) {
        const n = Math.min(rowsPerChunk, o.rows - r);
        const bytes = o.bytesOf(r, n, checkBuffer);
        if (!checkBuffer || bytes.buffer !== checkBuffer.buffer) checkBuffer = bytes.length >= (checkBuffer?.length ?? 0) ? bytes : checkBuffer;
        if (!o.bad || o.bad(bytes)) o.unpack(bytes, r, n);
      }
    },
  };
}

/** Every value of a ternary tensor, decoded chunk by chunk into one array. */
export function decodeAll(t: TernaryRows): Int8Array {
  const q = new Int8Array(t.rows * t.cols);
  for (let r = 0; r < t.rows; r += t.rowsPerChunk) q.set(t.decode(r, Math.min(t.rowsPerChunk, t.rows - r)), r * t.cols);
  return q;
}

/** The lazy tensors, ternary ones decoded whole: what `OutputFormat.read` returns. */
export function readAll(tensors: Iterable<LazyTensor>): ReadTensor[] {
  const out: ReadTensor[] = [];
  for (const t of tensors) {
    const { ternary, file: _file, ...base } = t;
    out.push(ternary ? { ...base, ternary: { rows: ternary.rows, cols: ternary.cols, q: decodeAll(ternary), rowScales: ternary.rowScales } } : base);
  }
  return out;
}

/** config.json and manifest.json are small: a larger file is refused before it is read whole. */
const MAX_JSON_BYTES = 16 << 20;

/** A JSON file of the output folder, parsed (a typed error when it is not JSON). */
export function jsonFile<T>(folder: OutputFolder, name: string): T {
  const size = folder.size?.(name);
  if (size !== undefined && size > MAX_JSON_BYTES) throw new CorruptFileError({ file: name }, `a JSON file of at most ${MAX_JSON_BYTES} bytes`, `${size} bytes`);
  try {
    return JSON.parse(new TextDecoder().decode(need(folder, name))) as T;
  } catch (e) {
    if (e instanceof CorruptFileError) throw e;
    throw new CorruptFileError({ file: name }, 'JSON', `unreadable JSON (${(e as Error).message})`);
  }
}

/** The header of a safetensors file of the output folder, read by positioned reads. */
export function safetensorsHeader(folder: OutputFolder, file: string): TensorInfo[] {
  const size = sizeOf(folder, file);
  const n = readHeaderLength(readRange(folder, file, 0, Math.min(8, size)), size, file);
  return parseHeader(readRange(folder, file, 8, n), n, size, file).tensors;
}

/**
 * The tensors of a safetensors output file, without their `_scale` companions, lazily, each with the
 * role its name holds in `names`: `ternary` makes the rows of a packed tensor given its scale tensor
 * (checked to hold `scaleCount(info)` values) and a reader of its bytes (offset, length within the
 * tensor), or returns undefined for a float tensor.
 */
export function* tensorsWithScales(
  folder: OutputFolder,
  file: string,
  names: TensorNames,
  only: ((file: string) => boolean) | undefined,
  isPacked: (info: TensorInfo) => boolean,
  scaleCount: (info: TensorInfo) => number,
  ternary: (info: TensorInfo, scales: Float32Array, bytes: (offset: number, length: number, into?: Uint8Array) => Uint8Array, role: TensorRole | undefined) => TernaryRows,
): Generator<LazyTensor> {
  if (only && !only(file)) return;
  const tensors = safetensorsHeader(folder, file);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  for (const info of tensors) {
    if (info.name.endsWith('_scale')) continue;
    const base = { name: info.name, role: roleOfName(names, info.name), file, dtype: info.dtype, shape: info.storedShape };
    if (!isPacked(info)) {
      yield base;
      continue;
    }
    const name = info.name + '_scale';
    const s = byName.get(name);
    if (!s || s.elements !== scaleCount(info)) throw new CorruptFileError({ file, tensor: name }, `${scaleCount(info)} scale values`, s ? `${s.elements}` : 'none');
    const scales = floatValues(readRange(folder, file, s.offset, s.byteLength), s.dtype, file, name);
    const bytes = (offset: number, length: number, into?: Uint8Array) => {
      if (offset < 0 || offset + length > info.byteLength) throw new CorruptFileError({ file, tensor: info.name }, `bytes ${offset}..${offset + length} inside the tensor`, `${info.byteLength} bytes`);
      return readRange(folder, file, info.offset + offset, length, into);
    };
    yield { ...base, ternary: ternary(info, scales, bytes, base.role) };
  }
}

/** The values of a little-endian float tensor as numbers. */
export function floatValues(data: Uint8Array, dtype: string, file: string, tensor: string): Float32Array {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out = new Float32Array(data.length / (dtype === 'F32' ? 4 : 2));
  for (let i = 0; i < out.length; i++) {
    if (dtype === 'F32') out[i] = view.getFloat32(4 * i, true);
    else if (dtype === 'BF16') out[i] = bf16ToF32(view.getUint16(2 * i, true));
    else if (dtype === 'F16') out[i] = f16ToF32(view.getUint16(2 * i, true));
    else throw new CorruptFileError({ file, tensor }, 'a float tensor (F32, BF16, F16)', dtype);
  }
  return out;
}
