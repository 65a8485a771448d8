// Reads a bitnet-rs output back: every per-part file decoded and reassembled into the full model
// record (files through `readFile`), or tensor by tensor with positioned reads (bitnetRsTensors).
// Platform neutral.

import { BincodeReader, type BincodeFlavor, type ByteRange } from '../../formats/bincode.js';
import { CorruptFileError } from '../../errors.js';
import { chunkRows, need, readRange, sizeOf } from '../read-helpers.js';
import type { LazyTensor, OutputFolder, TernaryRows } from '../types.js';
import { unpackBitnetRsWords, wordsPerRow } from './packing.js';
import { decode, readBitLinear, readBlock, readMetadata, readWeightShape, type ModelRecord } from './records.js';

/** Decodes all parts into one ModelRecord. Reads whole files: meant for checks, not for 2B models. */
export function readBitnetRs(readFile: (name: string) => Uint8Array, flavor: BincodeFlavor, label = (name: string) => name): ModelRecord {
  const part = <T>(name: string, read: (r: BincodeReader) => T): T => decode(read, readFile(name), flavor, label(name));
  const metadata = part('metadata.bin', readMetadata);
  const blocks = [];
  for (let i = 0; i < metadata.numLayers; i++) blocks.push(part(`block_${i}.bin`, readBlock));
  return {
    embedding: part('embedding.bin', readWeightShape),
    blocks,
    norm: part('norm.bin', readWeightShape),
    lmHead: part('lm_head.bin', readBitLinear),
    metadata,
  };
}

/** Words decoded per step of the scan; the byte offset of every step's start is kept for `decode`. */
const STEP_WORDS = 1 << 14;

/** A 2-bit code 11 in a packed word: not a ternary value. */
const hasCode3 = (v: number): boolean => (v & (v >>> 1) & 0x55555555) !== 0;

/**
 * A BitLinearRecord at the reader: packed_weights scanned once (for its end, the offsets of its steps, and
 * the first word holding a code 11), then the scales and features; values decoded later by positioned reads.
 */
function lazyBitLinear(c: BincodeReader, name: string): { rows: TernaryRows; words: number } {
  const n = c.lengthU32('packed_weights');
  const steps: number[] = [];
  const firstBad = c.scanU32s(n, STEP_WORDS, steps, hasCode3, 'packed_weights');
  const rowScales = c.vecF32('weight_scales');
  const cols = c.usize('in_features');
  const rows = c.usize('out_features');
  const file = c.file;
  const wpr = wordsPerRow(cols);
  if (n !== rows * wpr) throw new CorruptFileError({ file, tensor: name }, `${rows * wpr} packed words for [${rows}, ${cols}]`, `${n}`);
  const rowsPerChunk = chunkRows(rows, cols);
  const decode = (row: number, count: number): Int8Array => {
    const from = row * wpr;
    const step = Math.floor(from / STEP_WORDS);
    const at = c.at(steps[step] ?? c.pos, Math.min(1 << 22, (count * wpr + STEP_WORDS) * 5));
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
  return { rows: { rows, cols, rowScales, rowsPerChunk, decode, check }, words: n };
}

/** The tensors of a bitnet-rs output one at a time (the same names and order as `read`), records walked by positioned reads. */
export function* bitnetRsTensors(folder: OutputFolder, flavor: BincodeFlavor, only?: (file: string) => boolean): Generator<LazyTensor> {
  const metadata = decode(readMetadata, need(folder, 'metadata.bin'), flavor, 'metadata.bin');
  const reader = (name: string) => {
    const range: ByteRange = { size: sizeOf(folder, name), read: (offset, length, into) => readRange(folder, name, offset, length, into) };
    return new BincodeReader(range, flavor, name);
  };
  const floats = (c: BincodeReader, name: string): LazyTensor => {
    c.skipVecF32('weight');
    return { name, dtype: 'F32', shape: c.vecUsize('shape') };
  };
  const linear = (c: BincodeReader, name: string): LazyTensor => {
    const { rows } = lazyBitLinear(c, name);
    return { name, dtype: 'U32', shape: [rows.rows, wordsPerRow(rows.cols)], ternary: rows };
  };
  const want = (file: string) => !only || only(file);
  if (want('embedding.bin')) yield floats(reader('embedding.bin'), 'embedding.bin:weight');
  if (want('norm.bin')) yield floats(reader('norm.bin'), 'norm.bin:weight');
  if (want('lm_head.bin')) yield linear(reader('lm_head.bin'), 'lm_head.bin:weight');
  for (let i = 0; i < metadata.numLayers; i++) {
    const file = `block_${i}.bin`;
    if (!want(file)) continue;
    const c = reader(file);
    const f = `${file}:`;
    // a block's records are parsed whole before its tensors are given out, as the whole-file reader does
    const tensors = [
      linear(c, f + 'attention.wqkv'),
      linear(c, f + 'attention.o_proj'),
      linear(c, f + 'feed_forward.w13'),
      linear(c, f + 'feed_forward.w2'),
      floats(c, f + 'attention_norm'),
      floats(c, f + 'ffn_norm'),
    ];
    if (c.remaining > 0) tensors.push(floats(c, f + 'attn_sub_norm'), floats(c, f + 'ffn_sub_norm'));
    yield* tensors;
  }
}
