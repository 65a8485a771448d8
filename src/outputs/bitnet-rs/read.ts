// Reads a bitnet-rs output back: every per-part file decoded and reassembled into the full model
// record (files through `readFile`), or tensor by tensor with positioned reads (bitnetRsTensors).
// Platform neutral.

import type { BincodeFlavor, BincodeReader } from '../../formats/bincode.js';
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

/**
 * A bincode reader over a file read a window at a time (positioned reads): what the lazy reader walks
 * the records with, so a 100 MB lm_head.bin or a 1.3 GB embedding.bin is never held whole. Same checks
 * and messages as BincodeReader.
 */
class BincodeCursor {
  private buf: Uint8Array = new Uint8Array(0);
  /** File offset of buf[0]. */
  private start = 0;
  /** File offset of the next byte. */
  pos: number;

  /** The window's memory, reused by every refill. */
  private scratch?: Uint8Array;

  constructor(
    private readonly readAt: (offset: number, length: number, into?: Uint8Array) => Uint8Array,
    readonly size: number,
    readonly flavor: BincodeFlavor,
    readonly file: string,
    at = 0,
    private readonly window = 1 << 22,
  ) {
    this.pos = at;
  }

  get remaining(): number {
    return this.size - this.pos;
  }

  /** Makes buf hold [pos, pos + n); fails like BincodeReader past the end. */
  private need(n: number, what: string): number {
    let i = this.pos - this.start;
    if (i + n <= this.buf.length) return i;
    if (this.pos + n > this.size) {
      throw new CorruptFileError({ file: this.file }, `${n} more bytes for ${what} at byte ${this.pos}`, `${this.size - this.pos} (truncated bincode)`);
    }
    const length = Math.min(this.size - this.pos, Math.max(n, this.window));
    if (!this.scratch || this.scratch.length < length) this.scratch = new Uint8Array(Math.max(length, this.window));
    this.start = this.pos;
    this.buf = this.readAt(this.pos, length, this.scratch);
    i = 0;
    return i;
  }

  skip(n: number): void {
    this.pos += n;
  }

  private unsigned(fixedBytes: 4 | 8, what: string): number {
    if (this.flavor === 'legacy') {
      const i = this.need(fixedBytes, what);
      const view = new DataView(this.buf.buffer, this.buf.byteOffset + i, fixedBytes);
      this.pos += fixedBytes;
      if (fixedBytes === 4) return view.getUint32(0, true);
      const v = view.getBigUint64(0, true);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CorruptFileError({ file: this.file }, `${what} below 2^53`, v.toString());
      return Number(v);
    }
    const at = this.need(1, what);
    const mark = this.buf[at];
    this.pos++;
    if (mark < 251) return mark;
    const width = mark === 0xfb ? 2 : mark === 0xfc ? 4 : mark === 0xfd && fixedBytes === 8 ? 8 : 0;
    if (!width) throw new CorruptFileError({ file: this.file }, `a varint ${what} at byte ${this.pos - 1}`, `marker byte 0x${mark.toString(16)}`);
    const i = this.need(width, what);
    const view = new DataView(this.buf.buffer, this.buf.byteOffset + i, width);
    this.pos += width;
    let v: number;
    if (width === 2) v = view.getUint16(0, true);
    else if (width === 4) v = view.getUint32(0, true);
    else {
      const b = view.getBigUint64(0, true);
      if (b > BigInt(Number.MAX_SAFE_INTEGER)) throw new CorruptFileError({ file: this.file }, `${what} below 2^53`, b.toString());
      v = Number(b);
    }
    const min = width === 2 ? 251 : width === 4 ? 0x10000 : 0x100000000;
    if (v < min) throw new CorruptFileError({ file: this.file }, `a canonical varint ${what}`, `${v} encoded after 0x${mark.toString(16)}`);
    return v;
  }

  usize(what: string): number {
    return this.unsigned(8, what);
  }

  u64(what: string): number {
    return this.unsigned(8, what);
  }

  /** A vector length, checked against the bytes left. */
  length(minElementBytes: number, what: string): number {
    const n = this.usize(`${what} length`);
    if (n * minElementBytes > this.remaining) {
      throw new CorruptFileError({ file: this.file }, `${what} of ${n} elements to fit in the ${this.remaining} bytes left`, 'a longer length');
    }
    return n;
  }

  vecF32(what: string): Float32Array {
    const n = this.length(4, what);
    const out = new Float32Array(n);
    for (let k = 0; k < n; ) {
      const m = Math.min(n - k, this.window >> 2);
      const i = this.need(4 * m, what);
      const view = new DataView(this.buf.buffer, this.buf.byteOffset + i, 4 * m);
      for (let j = 0; j < m; j++) out[k + j] = view.getFloat32(4 * j, true);
      this.pos += 4 * m;
      k += m;
    }
    return out;
  }

  /** Skips a Vec<f32>, returning its length. */
  skipVecF32(what: string): number {
    const n = this.length(4, what);
    this.pos += 4 * n;
    return n;
  }

  vecUsize(what: string): number[] {
    const n = this.length(this.flavor === 'legacy' ? 8 : 1, what);
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(this.usize(what));
    return out;
  }

  /**
   * Walks `n` u32 elements without keeping them: pushes the file offset of every `step`-th (a power of
   * two) into `steps`, and returns the index of the first holding a 2-bit code 11 (-1 when none).
   */
  scanWords(n: number, step: number, steps: number[], what: string): number {
    const legacy = this.flavor === 'legacy';
    const mask = step - 1;
    let firstBad = -1;
    let k = 0;
    while (k < n) {
      const b = this.buf;
      const end = b.length;
      let p = this.pos - this.start;
      // the common case on local variables: whole elements in the window (legacy words; 5-byte varints, or 1-byte ones)
      if (legacy) {
        for (; k < n && p + 4 <= end; k++, p += 4) {
          if ((k & mask) === 0) steps.push(this.start + p);
          const v = (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
          if (v & (v >>> 1) & 0x55555555 && firstBad < 0) firstBad = k;
        }
      } else {
        for (; k < n && p + 5 <= end; k++) {
          const mark = b[p];
          let v: number;
          if (mark === 0xfc) {
            v = (b[p + 1] | (b[p + 2] << 8) | (b[p + 3] << 16) | (b[p + 4] << 24)) >>> 0;
            if (v < 0x10000) break; // non-canonical: the general path names it
          } else if (mark < 251) v = mark;
          else break;
          if ((k & mask) === 0) steps.push(this.start + p);
          if (v & (v >>> 1) & 0x55555555 && firstBad < 0) firstBad = k;
          p += mark === 0xfc ? 5 : 1;
        }
      }
      this.pos = this.start + p;
      if (k >= n) break;
      // one element the general way: a refill of the window, the u16 form, or an error
      if ((k & mask) === 0) steps.push(this.pos);
      const v = this.unsigned(4, what);
      if (v & (v >>> 1) & 0x55555555 && firstBad < 0) firstBad = k;
      k++;
    }
    return firstBad;
  }

  /** `n` u32 elements into out[0..n): varints in standard, 4 bytes each in legacy. */
  words(out: Uint32Array, n: number, what: string): void {
    const legacy = this.flavor === 'legacy';
    for (let k = 0; k < n; k++) {
      let i = this.pos - this.start;
      if (i + 5 > this.buf.length) i = this.need(Math.min(5, this.size - this.pos) || 1, what);
      const b = this.buf;
      if (legacy) {
        if (i + 4 > b.length) this.need(4, what);
        out[k] = (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
        this.pos += 4;
        continue;
      }
      const mark = b[i];
      if (mark < 251) {
        out[k] = mark;
        this.pos += 1;
      } else if (mark === 0xfc && i + 5 <= b.length) {
        const v = (b[i + 1] | (b[i + 2] << 8) | (b[i + 3] << 16) | (b[i + 4] << 24)) >>> 0;
        if (v < 0x10000) throw new CorruptFileError({ file: this.file }, `a canonical varint ${what}`, `${v} encoded after 0xfc`);
        out[k] = v;
        this.pos += 5;
      } else {
        out[k] = this.unsigned(4, what); // the rare u16 form, a marker error, or the end of the file
      }
    }
  }
}

/** Words decoded per step of the scan; the byte offset of every step's start is kept for `decode`. */
const STEP_WORDS = 1 << 14;

/**
 * A BitLinearRecord at the cursor: packed_weights scanned once (for its end, the offsets of its steps, and
 * the first word holding a code 11), then the scales and features; values decoded later by positioned reads.
 */
function lazyBitLinear(c: BincodeCursor, readAt: (offset: number, length: number, into?: Uint8Array) => Uint8Array, name: string): { rows: TernaryRows; words: number } {
  const n = c.length(c.flavor === 'legacy' ? 4 : 1, 'packed_weights');
  const steps: number[] = [];
  const firstBad = c.scanWords(n, STEP_WORDS, steps, 'packed_weights');
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
    const at = new BincodeCursor(readAt, c.size, c.flavor, file, steps[step] ?? c.pos, Math.min(1 << 22, (count * wpr + STEP_WORDS) * 5));
    const words = new Uint32Array(Math.max(count * wpr, from - step * STEP_WORDS));
    at.words(words, from - step * STEP_WORDS, 'packed_weights'); // skipped
    at.words(words, count * wpr, 'packed_weights');
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
  const cursor = (name: string) => {
    const readAt = (offset: number, length: number, into?: Uint8Array) => readRange(folder, name, offset, length, into);
    return { c: new BincodeCursor(readAt, sizeOf(folder, name), flavor, name), readAt };
  };
  const floats = (c: BincodeCursor, name: string): LazyTensor => {
    c.skipVecF32('weight');
    return { name, dtype: 'F32', shape: c.vecUsize('shape') };
  };
  const linear = (c: BincodeCursor, readAt: (offset: number, length: number, into?: Uint8Array) => Uint8Array, name: string): LazyTensor => {
    const { rows } = lazyBitLinear(c, readAt, name);
    return { name, dtype: 'U32', shape: [rows.rows, wordsPerRow(rows.cols)], ternary: rows };
  };
  const want = (file: string) => !only || only(file);
  if (want('embedding.bin')) yield floats(cursor('embedding.bin').c, 'embedding.bin:weight');
  if (want('norm.bin')) yield floats(cursor('norm.bin').c, 'norm.bin:weight');
  if (want('lm_head.bin')) {
    const { c, readAt } = cursor('lm_head.bin');
    yield linear(c, readAt, 'lm_head.bin:weight');
  }
  for (let i = 0; i < metadata.numLayers; i++) {
    const file = `block_${i}.bin`;
    if (!want(file)) continue;
    const { c, readAt } = cursor(file);
    const f = `${file}:`;
    // a block's records are parsed whole before its tensors are given out, as the whole-file reader does
    const tensors = [
      linear(c, readAt, f + 'attention.wqkv'),
      linear(c, readAt, f + 'attention.o_proj'),
      linear(c, readAt, f + 'feed_forward.w13'),
      linear(c, readAt, f + 'feed_forward.w2'),
      floats(c, f + 'attention_norm'),
      floats(c, f + 'ffn_norm'),
    ];
    if (c.remaining > 0) tensors.push(floats(c, f + 'attn_sub_norm'), floats(c, f + 'ffn_sub_norm'));
    yield* tensors;
  }
}
