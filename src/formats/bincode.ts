// bincode 2 `config::standard()` (varint integers) and bincode 1 / `config::legacy()`
// (fixed-width integers), little-endian, as specified in the bincode repo's docs/spec.md.
// Only what the bitnet-rs records need: unsigned integers, f32, vectors and structs.

import { CorruptFileError } from '../errors.js';

export type BincodeFlavor = 'standard' | 'legacy';

const U16_MARK = 0xfb;
const U32_MARK = 0xfc;
const U64_MARK = 0xfd;

/** Growable little-endian writer. */
export class BincodeWriter {
  private buf: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(readonly flavor: BincodeFlavor = 'standard', initial = 256) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  private ensure(extra: number): void {
    const need = this.length + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.length++] = v;
    return this;
  }

  /** An unsigned integer up to 2^53: varint in standard, `fixedBytes` wide in legacy. */
  private unsigned(v: number, fixedBytes: 4 | 8): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`bincode: not an unsigned safe integer: ${v}`);
    if (this.flavor === 'legacy') {
      this.ensure(fixedBytes);
      if (fixedBytes === 4) {
        if (v > 0xffffffff) throw new RangeError(`bincode: ${v} does not fit in u32`);
        this.view.setUint32(this.length, v, true);
      } else {
        this.view.setBigUint64(this.length, BigInt(v), true);
      }
      this.length += fixedBytes;
      return this;
    }
    this.ensure(9);
    if (v < 251) {
      this.buf[this.length++] = v;
    } else if (v < 0x10000) {
      this.buf[this.length++] = U16_MARK;
      this.view.setUint16(this.length, v, true);
      this.length += 2;
    } else if (v < 0x100000000) {
      this.buf[this.length++] = U32_MARK;
      this.view.setUint32(this.length, v, true);
      this.length += 4;
    } else {
      this.buf[this.length++] = U64_MARK;
      this.view.setBigUint64(this.length, BigInt(v), true);
      this.length += 8;
    }
    return this;
  }

  u32(v: number): this {
    if (v > 0xffffffff) throw new RangeError(`bincode: ${v} does not fit in u32`);
    return this.unsigned(v, 4);
  }

  u64(v: number): this {
    return this.unsigned(v, 8);
  }

  /** usize is a u64 on the wire. */
  usize(v: number): this {
    return this.unsigned(v, 8);
  }

  f32(v: number): this {
    this.ensure(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
    return this;
  }

  raw(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
    return this;
  }

  vecU32(values: ArrayLike<number>): this {
    this.usize(values.length);
    for (let i = 0; i < values.length; i++) this.u32(values[i]);
    return this;
  }

  vecF32(values: ArrayLike<number>): this {
    this.usize(values.length);
    this.ensure(values.length * 4);
    for (let i = 0; i < values.length; i++) this.f32(values[i]);
    return this;
  }

  vecUsize(values: ArrayLike<number>): this {
    this.usize(values.length);
    for (let i = 0; i < values.length; i++) this.usize(values[i]);
    return this;
  }
}

/**
 * Bytes [0, size) of a file, or of a range of one, read a piece at a time: `read` returns exactly
 * `length` bytes from `offset` (into `into` when it is given and large enough: a view of it).
 */
export interface ByteRange {
  readonly size: number;
  read(offset: number, length: number, into?: Uint8Array): Uint8Array;
}

/**
 * Bounds-checked reader over bytes in memory or over a ByteRange held a window at a time (so a field
 * of a 1.3 GB file can be read or skipped without holding the file). Any overrun or malformed varint is
 * a CorruptFileError naming the file; `pos` is an offset in the whole range.
 */
export class BincodeReader {
  /** The window: bytes [start, start + buf.length) of the range (all of them for bytes in memory). */
  private buf: Uint8Array;
  private start = 0;
  pos: number;
  readonly size: number;
  /** The window's memory, reused by every refill. */
  private scratch?: Uint8Array;

  constructor(
    private readonly source: Uint8Array | ByteRange,
    readonly flavor: BincodeFlavor = 'standard',
    readonly file = '<bytes>',
    at = 0,
    private readonly window = 1 << 22,
  ) {
    this.pos = at;
    if (source instanceof Uint8Array) {
      this.buf = source;
      this.size = source.length;
    } else {
      this.buf = new Uint8Array(0);
      this.size = source.size;
    }
  }

  /** Another reader over the same bytes, from `offset` (its own window of `window` bytes). */
  at(offset: number, window = this.window): BincodeReader {
    return new BincodeReader(this.source, this.flavor, this.file, offset, window);
  }

  get remaining(): number {
    return this.size - this.pos;
  }

  /** Makes the window hold [pos, pos + n) and returns pos's index in it; past the end is corrupt. */
  private need(n: number, what: string): number {
    const i = this.pos - this.start;
    if (i >= 0 && i + n <= this.buf.length) return i;
    if (this.pos + n > this.size) {
      throw new CorruptFileError({ file: this.file }, `${n} more bytes for ${what} at byte ${this.pos}`, `${this.size - this.pos} (truncated bincode)`);
    }
    const range = this.source as ByteRange; // bytes in memory are all in the window
    const length = Math.min(this.size - this.pos, Math.max(n, this.window));
    if (!this.scratch || this.scratch.length < length) this.scratch = new Uint8Array(Math.max(length, this.window));
    this.start = this.pos;
    this.buf = range.read(this.pos, length, this.scratch);
    return 0;
  }

  /** A little-endian view of the next n bytes (in the window), pos moved past them. */
  private take(n: number, what: string): DataView {
    const i = this.need(n, what);
    this.pos += n;
    return new DataView(this.buf.buffer, this.buf.byteOffset + i, n);
  }

  skip(n: number): void {
    this.pos += n;
  }

  u8(what = 'u8'): number {
    const i = this.need(1, what);
    this.pos++;
    return this.buf[i];
  }

  private unsigned(fixedBytes: 4 | 8, what: string): number {
    if (this.flavor === 'legacy') {
      const view = this.take(fixedBytes, what);
      return fixedBytes === 4 ? view.getUint32(0, true) : this.bigToNumber(view.getBigUint64(0, true), what);
    }
    const mark = this.u8(what);
    if (mark < 251) return mark;
    const width = mark === U16_MARK ? 2 : mark === U32_MARK ? 4 : mark === U64_MARK && fixedBytes === 8 ? 8 : 0;
    if (!width) throw new CorruptFileError({ file: this.file }, `a varint ${what} at byte ${this.pos - 1}`, `marker byte 0x${mark.toString(16)}`);
    const view = this.take(width, what);
    const v = width === 2 ? view.getUint16(0, true) : width === 4 ? view.getUint32(0, true) : this.bigToNumber(view.getBigUint64(0, true), what);
    // bincode rejects non-canonical varints (a value encoded wider than needed).
    const min = width === 2 ? 251 : width === 4 ? 0x10000 : 0x100000000;
    if (v < min) throw new CorruptFileError({ file: this.file }, `a canonical varint ${what}`, `${v} encoded after 0x${mark.toString(16)}`);
    return v;
  }

  private bigToNumber(v: bigint, what: string): number {
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new CorruptFileError({ file: this.file }, `${what} below 2^53`, v.toString());
    }
    return Number(v);
  }

  u32(what = 'u32'): number {
    return this.unsigned(4, what);
  }

  u64(what = 'u64'): number {
    return this.unsigned(8, what);
  }

  usize(what = 'usize'): number {
    return this.unsigned(8, what);
  }

  f32(what = 'f32'): number {
    return this.take(4, what).getFloat32(0, true);
  }

  /** A vector length, checked against the bytes left so corrupt input cannot make us allocate wildly. */
  length(minElementBytes: number, what: string): number {
    const n = this.usize(`${what} length`);
    if (n * minElementBytes > this.remaining) {
      throw new CorruptFileError({ file: this.file }, `${what} of ${n} elements to fit in the ${this.remaining} bytes left`, 'a longer length');
    }
    return n;
  }

  /** The length of a Vec<u32>: its elements take at least 1 byte each in standard, 4 in legacy. */
  lengthU32(what: string): number {
    return this.length(this.flavor === 'legacy' ? 4 : 1, what);
  }

  vecU32(what = 'Vec<u32>'): Uint32Array {
    const n = this.lengthU32(what);
    const out = new Uint32Array(n);
    this.u32s(out, n, what);
    return out;
  }

  vecF32(what = 'Vec<f32>'): Float32Array {
    return this.f32s(this.length(4, what), what);
  }

  /** Skips a Vec<f32>, returning its length. */
  skipVecF32(what = 'Vec<f32>'): number {
    const n = this.length(4, what);
    this.pos += 4 * n;
    return n;
  }

  /** `n` f32 values, read a window at a time. */
  f32s(n: number, what = 'f32'): Float32Array {
    const out = new Float32Array(n);
    for (let k = 0; k < n; ) {
      const m = Math.min(n - k, this.window >> 2);
      const view = this.take(4 * m, what);
      for (let j = 0; j < m; j++) out[k + j] = view.getFloat32(4 * j, true);
      k += m;
    }
    return out;
  }

  vecUsize(what = 'Vec<usize>'): number[] {
    const n = this.length(this.flavor === 'legacy' ? 8 : 1, what);
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(this.usize(what));
    return out;
  }

  /** `n` u32 elements into out[0..n): varints in standard, 4 bytes each in legacy; the common forms inline. */
  u32s(out: Uint32Array, n: number, what = 'u32'): void {
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
      } else if (mark === U32_MARK && i + 5 <= b.length) {
        const v = (b[i + 1] | (b[i + 2] << 8) | (b[i + 3] << 16) | (b[i + 4] << 24)) >>> 0;
        if (v < 0x10000) throw new CorruptFileError({ file: this.file }, `a canonical varint ${what}`, `${v} encoded after 0xfc`);
        out[k] = v;
        this.pos += 5;
      } else {
        out[k] = this.unsigned(4, what); // the rare u16 form, a marker error, or the end of the range
      }
    }
  }

  /**
   * Walks `n` u32 elements without keeping them: pushes the offset of every `step`-th (a power of two)
   * into `steps`, and returns the index of the first one `flagged` accepts (-1 when none).
   */
  scanU32s(n: number, step: number, steps: number[], flagged: (v: number) => boolean, what = 'u32'): number {
    const legacy = this.flavor === 'legacy';
    const mask = step - 1;
    let first = -1;
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
          if (first < 0 && flagged(v)) first = k;
        }
      } else {
        for (; k < n && p + 5 <= end; k++) {
          const mark = b[p];
          let v: number;
          if (mark === U32_MARK) {
            v = (b[p + 1] | (b[p + 2] << 8) | (b[p + 3] << 16) | (b[p + 4] << 24)) >>> 0;
            if (v < 0x10000) break; // non-canonical: the general path names it
          } else if (mark < 251) v = mark;
          else break;
          if ((k & mask) === 0) steps.push(this.start + p);
          if (first < 0 && flagged(v)) first = k;
          p += mark === U32_MARK ? 5 : 1;
        }
      }
      this.pos = this.start + p;
      if (k >= n) break;
      // one element the general way: a refill of the window, the u16 form, or an error
      if ((k & mask) === 0) steps.push(this.pos);
      const v = this.unsigned(4, what);
      if (first < 0 && flagged(v)) first = k;
      k++;
    }
    return first;
  }
}
