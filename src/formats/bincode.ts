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

/** Bounds-checked reader; any overrun or malformed varint is a CorruptFileError naming the file. */
export class BincodeReader {
  private readonly view: DataView;
  pos = 0;

  constructor(
    private readonly buf: Uint8Array,
    readonly flavor: BincodeFlavor = 'standard',
    readonly file = '<bytes>',
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) {
      throw new CorruptFileError(
        { file: this.file },
        `${n} more bytes for ${what} at byte ${this.pos}`,
        `${this.buf.length - this.pos} (truncated bincode)`,
      );
    }
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.buf[this.pos++];
  }

  private unsigned(fixedBytes: 4 | 8, what: string): number {
    if (this.flavor === 'legacy') {
      this.need(fixedBytes, what);
      let v: number;
      if (fixedBytes === 4) v = this.view.getUint32(this.pos, true);
      else v = this.bigToNumber(this.view.getBigUint64(this.pos, true), what);
      this.pos += fixedBytes;
      return v;
    }
    const mark = this.u8(what);
    if (mark < 251) return mark;
    let v: number;
    let min: number;
    if (mark === U16_MARK) {
      this.need(2, what);
      v = this.view.getUint16(this.pos, true);
      this.pos += 2;
      min = 251;
    } else if (mark === U32_MARK) {
      this.need(4, what);
      v = this.view.getUint32(this.pos, true);
      this.pos += 4;
      min = 0x10000;
    } else if (mark === U64_MARK && fixedBytes === 8) {
      this.need(8, what);
      v = this.bigToNumber(this.view.getBigUint64(this.pos, true), what);
      this.pos += 8;
      min = 0x100000000;
    } else {
      throw new CorruptFileError({ file: this.file }, `a varint ${what} at byte ${this.pos - 1}`, `marker byte 0x${mark.toString(16)}`);
    }
    // bincode rejects non-canonical varints (a value encoded wider than needed).
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
    this.need(4, what);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** A vector length, checked against the bytes left so corrupt input cannot make us allocate wildly. */
  private length(minElementBytes: number, what: string): number {
    const n = this.usize(`${what} length`);
    if (n * minElementBytes > this.remaining) {
      throw new CorruptFileError({ file: this.file }, `${what} of ${n} elements to fit in the ${this.remaining} bytes left`, 'a longer length');
    }
    return n;
  }

  vecU32(what = 'Vec<u32>'): Uint32Array {
    const n = this.length(this.flavor === 'legacy' ? 4 : 1, what);
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32(what);
    return out;
  }

  vecF32(what = 'Vec<f32>'): Float32Array {
    const n = this.length(4, what);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.view.getFloat32(this.pos + 4 * i, true);
    this.pos += 4 * n;
    return out;
  }

  vecUsize(what = 'Vec<usize>'): number[] {
    const n = this.length(this.flavor === 'legacy' ? 8 : 1, what);
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(this.usize(what));
    return out;
  }
}
