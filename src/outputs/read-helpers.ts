// Shared by the formats' readers: the files of an output folder and the tensors of a safetensors file.

import { CorruptFileError } from '../errors.js';
import { parseHeader, readHeaderLength, type TensorInfo } from '../formats/safetensors.js';
import { bf16ToF32, f16ToF32 } from '../quant/floats.js';
import type { OutputFolder, ReadTensor } from './types.js';

export function need(folder: OutputFolder, name: string): Uint8Array {
  const bytes = folder.read(name);
  if (!bytes) throw new CorruptFileError({ file: name }, 'the file in the output folder', 'no such file');
  return bytes;
}

/** A JSON file of the output folder, parsed (a typed error when it is not JSON). */
export function jsonFile<T>(folder: OutputFolder, name: string): T {
  try {
    return JSON.parse(new TextDecoder().decode(need(folder, name))) as T;
  } catch (e) {
    if (e instanceof CorruptFileError) throw e;
    throw new CorruptFileError({ file: name }, 'JSON', `unreadable JSON (${(e as Error).message})`);
  }
}

/** A whole safetensors file in memory: its tensors (stored shapes) and their bytes. */
export function safetensorsTensors(bytes: Uint8Array, file: string): { info: TensorInfo; data: Uint8Array }[] {
  const n = readHeaderLength(bytes.subarray(0, 8), bytes.length, file);
  const h = parseHeader(bytes.subarray(8, 8 + n), n, bytes.length, file);
  return h.tensors.map((info) => ({ info, data: bytes.subarray(info.offset, info.offset + info.byteLength) }));
}

type StTensor = { info: TensorInfo; data: Uint8Array };

/**
 * The tensors of a safetensors output file, without their `_scale` companions: `ternary` decodes a
 * packed tensor given its scale tensor (checked to hold `scaleCount(info)` values), or returns
 * undefined for a float tensor.
 */
export function readWithScales(
  folder: OutputFolder,
  file: string,
  isPacked: (info: TensorInfo) => boolean,
  scaleCount: (info: TensorInfo) => number,
  ternary: (t: StTensor, scales: Float32Array) => ReadTensor['ternary'],
): ReadTensor[] {
  const tensors = safetensorsTensors(need(folder, file), file);
  const byName = new Map(tensors.map((t) => [t.info.name, t]));
  return tensors
    .filter((t) => !t.info.name.endsWith('_scale'))
    .map((t): ReadTensor => {
      const base = { name: t.info.name, dtype: t.info.dtype, shape: t.info.storedShape };
      if (!isPacked(t.info)) return base;
      const name = t.info.name + '_scale';
      const s = byName.get(name);
      if (!s || s.info.elements !== scaleCount(t.info)) throw new CorruptFileError({ file, tensor: name }, `${scaleCount(t.info)} scale values`, s ? `${s.info.elements}` : 'none');
      return { ...base, ternary: ternary(t, floatValues(s.data, s.info.dtype, file, name)) };
    });
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

/** Refuses a decoded code that is not a ternary value (named by tensor and index). */
export function badCode(file: string, tensor: string, index: number, code: number): never {
  throw new CorruptFileError({ file, tensor }, 'ternary codes only', `code ${code} at value ${index}`);
}
