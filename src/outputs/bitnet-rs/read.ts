// Reads a bitnet-rs output folder back: every per-part file decoded and reassembled into the full model
// record (readBitnetRsModel), or tensor by tensor with positioned reads (bitnetRsTensors).
// Platform neutral.

import { BincodeReader, type BincodeFlavor, type ByteRange } from '../../formats/bincode.js';
import { CorruptFileError } from '../../errors.js';
import { chunkRows, jsonFile, need, readRange, sizeOf } from '../read-helpers.js';
import type { LazyTensor, OutputFolder, TernaryRows } from '../types.js';
import { unpackBitnetRsWords, wordsPerRow } from './packing.js';
import type { TensorRole } from '../../model/plan.js';
import {
  BIT_LINEAR,
  BLOCK,
  BLOCK_RECORD_ROLES,
  MODEL_FILES,
  decode,
  readBitLinear,
  readBlock,
  readMetadata,
  readStruct,
  readWeightShape,
  WEIGHT_SHAPE,
  type Field,
  type ModelRecord,
  type Struct,
  type Values,
} from './records.js';

/** The bincode flavor manifest.json records (standard when it names none). */
function bincodeFlavor(folder: OutputFolder): BincodeFlavor {
  return jsonFile<{ options?: { bincode?: BincodeFlavor } }>(folder, 'manifest.json').options?.bincode ?? 'standard';
}

/**
 * Decodes a bitnet-rs output folder into one ModelRecord; `label` names a file in errors. Reads whole
 * files: meant for checks, not for 2B models.
 */
export function readBitnetRsModel(folder: OutputFolder, label = (name: string) => name): ModelRecord {
  const flavor = bincodeFlavor(folder);
  const part = <T>(name: string, read: (r: BincodeReader) => T): T => decode(read, need(folder, name), flavor, label(name));
  const metadata = part('metadata.bin', readMetadata);
  const blocks = [];
  for (let i = 0; i < metadata.numLayers; i++) blocks.push(part(`block_${i}.bin`, readBlock));
  return {
    embedding: part(MODEL_FILES.token_embd, readWeightShape),
    blocks,
    norm: part(MODEL_FILES.output_norm, readWeightShape),
    lmHead: part(MODEL_FILES.output, readBitLinear),
    metadata,
  };
}

/** Words decoded per step of the scan; the byte offset of every step's start is kept for `decode`. */
const STEP_WORDS = 1 << 14;

/** A 2-bit code 11 in a packed word: not a ternary value. */
const hasCode3 = (v: number): boolean => (v & (v >>> 1) & 0x55555555) !== 0;

/** packed_weights scanned once, not kept: its length, where it starts, the offset of each step, the first word holding a code 11. */
interface ScannedWords {
  n: number;
  start: number;
  steps: number[];
  firstBad: number;
}

/** The lazy read's fields: packed words scanned and float weights skipped (both read later by positioned reads); the rest read whole. */
function lazyField(r: BincodeReader, f: Field): unknown {
  if (f.name === 'packed_weights') {
    const n = r.lengthU32(f.name);
    const words: ScannedWords = { n, start: r.pos, steps: [], firstBad: -1 };
    words.firstBad = r.scanU32s(n, STEP_WORDS, words.steps, hasCode3, f.name);
    return words;
  }
  if (f.name === 'weight') return r.skipVecF32(f.name);
  return undefined;
}

/** A BitLinearRecord read lazily: its rows decoded a range at a time from the scanned words. */
function ternaryRows(c: BincodeReader, v: Values, name: string): TernaryRows {
  const { n, start, steps, firstBad } = v.packedWeights as ScannedWords;
  const rowScales = v.weightScales as Float32Array;
  const cols = v.inFeatures as number;
  const rows = v.outFeatures as number;
  const file = c.file;
  const wpr = wordsPerRow(cols);
  if (n !== rows * wpr) throw new CorruptFileError({ file, tensor: name }, `${rows * wpr} packed words for [${rows}, ${cols}]`, `${n}`);
  const rowsPerChunk = chunkRows(rows, cols);
  const decode = (row: number, count: number): Int8Array => {
    const from = row * wpr;
    const step = Math.floor(from / STEP_WORDS);
    const at = c.at(steps[step] ?? start, Math.min(1 << 22, (count * wpr + STEP_WORDS) * 5));
    const words = new Uint32Array(Math.max(count * wpr, from - step * STEP_WORDS));
    at.u32s(words, from - step * STEP_WORDS, 'packed_weights'); // skipped
    at.u32s(words, count * wpr, 'packed_weights');
    return unpackBitnetRsWords(words.subarray(0, count * wpr), count, cols, file, name, row);
  };
  const check = () => {
    // without row padding, only a word holding a code 11 can be bad: decode from its chunk to name it
    const first = cols % 16 === 0 ? (firstBad < 0 ? rows : Math.floor(firstBad / wpr / rowsPerChunk) * rowsPerChunk) : 0;
    for (let r = first; r < rows; r += rowsPerChunk) decode(r, Math.min(rowsPerChunk, rows - r));
  };
  return { rows, cols, rowScales, rowsPerChunk, decode, check };
}

/**
 * The tensors of one file, its record walked lazily: each tensor record becomes a tensor named by its path
 * (`weight` for a file that is one). The whole record is read before its tensors are given out, as the
 * whole-file reader does.
 */
function lazyTensors(c: BincodeReader, record: Struct, file: string, roleOf: (path: string) => TensorRole | undefined): LazyTensor[] {
  const tensors: LazyTensor[] = [];
  readStruct(c, record, true, {
    field: lazyField,
    struct(s, v, path) {
      const name = `${file}:${path || 'weight'}`;
      const role = roleOf(path);
      if (s === BIT_LINEAR) {
        const rows = ternaryRows(c, v, name);
        tensors.push({ name, role, file, dtype: 'U32', shape: [rows.rows, wordsPerRow(rows.cols)], ternary: rows });
      } else if (s === WEIGHT_SHAPE) tensors.push({ name, role, file, dtype: 'F32', shape: v.shape as number[] });
      return v;
    },
  });
  return tensors;
}

/** The tensors of a bitnet-rs output one at a time (the same names and order as `read`), records walked by positioned reads. */
export function* bitnetRsTensors(folder: OutputFolder, only?: (file: string) => boolean): Generator<LazyTensor> {
  const flavor = bincodeFlavor(folder);
  const metadata = decode(readMetadata, need(folder, 'metadata.bin'), flavor, 'metadata.bin');
  const files: [string, Struct, (path: string) => TensorRole | undefined][] = [
    [MODEL_FILES.token_embd, WEIGHT_SHAPE, () => 'token_embd'],
    [MODEL_FILES.output_norm, WEIGHT_SHAPE, () => 'output_norm'],
    [MODEL_FILES.output, BIT_LINEAR, () => 'output'],
  ];
  for (let i = 0; i < metadata.numLayers; i++) {
    files.push([`block_${i}.bin`, BLOCK, (path) => (Object.hasOwn(BLOCK_RECORD_ROLES, path) ? { block: i, roles: BLOCK_RECORD_ROLES[path] } : undefined)]);
  }
  for (const [file, record, roleOf] of files) {
    if (only && !only(file)) continue;
    const range: ByteRange = { size: sizeOf(folder, file), read: (offset, length, into) => readRange(folder, file, offset, length, into) };
    yield* lazyTensors(new BincodeReader(range, flavor, file), record, file, roleOf);
  }
}
