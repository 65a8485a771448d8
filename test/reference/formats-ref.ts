// Independent test-side statements of the three single-file output formats, written from
// shared/reference/formats.md (sections 1, 2, 4, 4b, 5) only, without looking at the writers in
// src/outputs/ or src/stream/. Plain, slow and literal on purpose. It shares no code with src/.
//
//   - decoders (and, for round trips and whole-file comparisons, literal packers) of the three
//     ternary packings: transformers' U8 [out/4, in], bitnet-rs' u32 rows, Microsoft's GPU int2.

import { refPackRows } from './kernels-ref.js';
import { toBf16, toF16, unpackRows, type Dt } from './ternary-ref.js';

// ---------------------------------------------------------------------------------------------
// Byte helpers

const scratch = new DataView(new ArrayBuffer(4));

/** Little-endian u32 words of a byte array (length a multiple of 4). */
export function u32sFromBytes(bytes: Uint8Array): Uint32Array {
  if (bytes.length % 4 !== 0) throw new Error(`u32 data of ${bytes.length} bytes is not a whole number of words`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Uint32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getUint32(4 * i, true);
  return out;
}

export function bytesFromU32s(words: Uint32Array): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < words.length; i++) view.setUint32(4 * i, words[i], true);
  return out;
}

/** bf16 bits of a value (rounded to nearest even first). */
function bf16Bits(x: number): number {
  scratch.setFloat32(0, toBf16(x));
  return scratch.getUint32(0) >>> 16;
}

/** f16 bits of a value (rounded to nearest even first), built from sign, exponent and fraction. */
function f16Bits(x: number): number {
  const v = toF16(x);
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === Infinity) return sign | 0x7c00;
  if (a < 2 ** -14) return sign | (a / 2 ** -24); // subnormal (or zero): whole multiples of 2^-24
  const e = Math.floor(Math.log2(a));
  return sign | ((e + 15) << 10) | (a / 2 ** e - 1) * 1024;
}

/** Encodes values in a float dtype (each rounded to it, nearest even), little-endian. */
export function encodeFloats(values: readonly number[], dtype: Dt): Uint8Array {
  const size = dtype === 'F32' ? 4 : 2;
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  values.forEach((x, i) => {
    if (dtype === 'F32') view.setFloat32(4 * i, x, true);
    else view.setUint16(2 * i, dtype === 'BF16' ? bf16Bits(x) : f16Bits(x), true);
  });
  return out;
}

/** Rounds a value to a float dtype, nearest even. */
export function roundToDtype(x: number, dtype: Dt): number {
  return dtype === 'BF16' ? toBf16(x) : dtype === 'F16' ? toF16(x) : Math.fround(x);
}

// ---------------------------------------------------------------------------------------------
// 1. transformers' packed U8 [rows/4, cols] (formats.md section 1)

/**
 * transformers' pack_weights layout: with R = rows/4, bits 2i..2i+1 of byte [r, c] hold
 * W[i*R + r, c] + 1 (quarter blocks of rows). Returns W, rows x cols row-major, values -1/0/+1.
 */
export function decodeHfU8(bytes: Uint8Array, rows: number, cols: number): Int8Array {
  if (rows % 4 !== 0) throw new Error(`hf U8: ${rows} rows is not a multiple of 4`);
  const R = rows / 4;
  if (bytes.length !== R * cols) throw new Error(`hf U8: expected ${R * cols} bytes for [${R}, ${cols}], found ${bytes.length}`);
  const out = new Int8Array(rows * cols);
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < cols; c++) {
      const byte = bytes[r * cols + c];
      for (let i = 0; i < 4; i++) {
        const code = (byte >> (2 * i)) & 3;
        if (code === 3) throw new Error(`hf U8: invalid code 3 at packed [${r}, ${c}] bits ${2 * i}..${2 * i + 1} (W[${i * R + r}, ${c}])`);
        out[(i * R + r) * cols + c] = code - 1;
      }
    }
  }
  return out;
}

/** The inverse of decodeHfU8, written from the same sentence in the forward direction. */
export function packHfU8(q: Int8Array, rows: number, cols: number): Uint8Array {
  if (rows % 4 !== 0) throw new Error(`hf U8: ${rows} rows is not a multiple of 4`);
  const R = rows / 4;
  const out = new Uint8Array(R * cols);
  for (let w = 0; w < rows; w++) {
    const i = Math.floor(w / R);
    const r = w % R;
    for (let c = 0; c < cols; c++) out[r * cols + c] |= (checkTernary(q[w * cols + c], w, c) + 1) << (2 * i);
  }
  return out;
}

function checkTernary(v: number, row: number, col: number): number {
  if (v !== -1 && v !== 0 && v !== 1) throw new Error(`value ${v} at [${row}, ${col}] is not ternary`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// 2. bitnet-rs u32 rows (formats.md section 4)

/**
 * 16 values a u32, value i at bits 2i (+1 = 01, -1 = 10, 0 = 00), every row ceil(cols/16) words,
 * the padding zero. Throws on code 11 or non-zero padding. (ternary-ref's unpackRows says exactly this.)
 */
export function decodeBitnetRsWords(words: Uint32Array, rows: number, cols: number): Int8Array {
  return unpackRows(words, rows, cols);
}

export function packBitnetRsWords(q: Int8Array, rows: number, cols: number): Uint32Array {
  const { words, bad } = refPackRows(q, rows, cols);
  if (bad !== 0) throw new Error(`bitnet-rs: ${bad} values are not ternary`);
  return words;
}

// ---------------------------------------------------------------------------------------------
// 3. Microsoft's GPU int2 layout (formats.md section 5)

function checkMsShape(N: number, K: number): void {
  if (N % 16 !== 0 || K % 32 !== 0) throw new Error(`ms int2: [${N}, ${K}] needs N % 16 == 0 and K % 32 == 0`);
}

/**
 * The inverse of Microsoft's pack: I8 [N, K/4] bytes -> ternary [N, K] row-major. Each byte is at
 * tile-order position [N/16][K/32][16][8]; within a 4-byte u32 of a tile row, bits 2*slot of byte b
 * are bit b*8 + slot*2 = (o%4)*8 + (o//4)*2, so they hold code o = 4*slot + b of the 16 codes
 * (tile columns 16*word + o); tile element (i, j) comes from block row (t//16)*8 + t%8 and block
 * column j%16 + 16*((t%16)//8), t = 2i + j//16; the value is code - 2.
 */
export function decodeMsInt2(bytes: Uint8Array, N: number, K: number): Int8Array {
  checkMsShape(N, K);
  if (bytes.length !== (N * K) / 4) throw new Error(`ms int2: expected ${(N * K) / 4} bytes for [${N}, ${K / 4}], found ${bytes.length}`);
  const blocksPerRow = K / 32;
  const out = new Int8Array(N * K);
  for (let f = 0; f < bytes.length; f++) {
    const m = f % 8; // byte within the tile row
    const i = Math.floor(f / 8) % 16; // tile row
    const tile = Math.floor(f / 128);
    const bn = Math.floor(tile / blocksPerRow);
    const bk = tile % blocksPerRow;
    const word = Math.floor(m / 4);
    const b = m % 4;
    for (let slot = 0; slot < 4; slot++) {
      const code = (bytes[f] >> (2 * slot)) & 3;
      const o = 4 * slot + b;
      const j = 16 * word + o;
      const t = 2 * i + Math.floor(j / 16);
      const row = bn * 16 + Math.floor(t / 16) * 8 + (t % 8);
      const col = bk * 32 + (j % 16) + 16 * Math.floor((t % 16) / 8);
      if (code === 0) throw new Error(`ms int2: invalid code 0 at byte ${f} ([${Math.floor(f / (K / 4))}, ${f % (K / 4)}]) bits ${2 * slot}..${2 * slot + 1} (W[${row}, ${col}])`);
      out[row * K + col] = code - 2;
    }
  }
  return out;
}

/** Microsoft's pack, step by step as formats.md section 5 tells it: tile, 4 codes a byte, u32 interleave. */
export function packMsInt2(q: Int8Array, N: number, K: number): Uint8Array {
  checkMsShape(N, K);
  const blocksPerRow = K / 32;
  // codes c = q + 2 in tile order [N/16][K/32][16][32]
  const tiles = new Uint8Array(N * K);
  for (let bn = 0; bn < N / 16; bn++) {
    for (let bk = 0; bk < blocksPerRow; bk++) {
      for (let i = 0; i < 16; i++) {
        for (let j = 0; j < 32; j++) {
          const t = 2 * i + Math.floor(j / 16);
          const r = Math.floor(t / 16) * 8 + (t % 8);
          const c = (j % 16) + 16 * Math.floor((t % 16) / 8);
          const row = bn * 16 + r;
          const col = bk * 32 + c;
          tiles[((bn * blocksPerRow + bk) * 16 + i) * 32 + j] = checkTernary(q[row * K + col], row, col) + 2;
        }
      }
    }
  }
  // 4 codes a byte, code k at bits 2k
  const packed = new Uint8Array((N * K) / 4);
  for (let p = 0; p < packed.length; p++) for (let k = 0; k < 4; k++) packed[p] |= tiles[4 * p + k] << (2 * k);
  // each 4 bytes a u32 of 16 codes; code o moves to bit (o%4)*8 + (o//4)*2
  const words = u32sFromBytes(packed);
  const moved = new Uint32Array(words.length);
  for (let w = 0; w < words.length; w++) {
    let v = 0;
    for (let o = 0; o < 16; o++) v += ((words[w] >>> (2 * o)) & 3) * 2 ** ((o % 4) * 8 + Math.floor(o / 4) * 2);
    moved[w] = v;
  }
  return bytesFromU32s(moved);
}

/** How the rows of a [rows, cols] matrix split into heads for '(h l d) i' with l = 2. */
function headDims(rows: number, heads: number): number {
  if (!Number.isInteger(heads) || heads < 1 || rows % (2 * heads) !== 0) throw new Error(`${rows} rows do not split into ${heads} heads of 2 halves`);
  return rows / (2 * heads);
}

/** '(h l d) i -> (h d l) i' with l = 2: the HF rotate-half row order to Microsoft's interleaved order. */
export function unpermuteRows(m: Int8Array, rows: number, cols: number, heads: number): Int8Array {
  const D = headDims(rows, heads);
  const out = new Int8Array(m.length);
  for (let h = 0; h < heads; h++)
    for (let l = 0; l < 2; l++)
      for (let d = 0; d < D; d++) out.set(m.subarray((h * 2 * D + l * D + d) * cols, (h * 2 * D + l * D + d + 1) * cols), (h * 2 * D + d * 2 + l) * cols);
  return out;
}

/** The inverse: '(h d l) i -> (h l d) i'. */
export function permuteRows(m: Int8Array, rows: number, cols: number, heads: number): Int8Array {
  const D = headDims(rows, heads);
  const out = new Int8Array(m.length);
  for (let h = 0; h < heads; h++)
    for (let l = 0; l < 2; l++)
      for (let d = 0; d < D; d++) out.set(m.subarray((h * 2 * D + d * 2 + l) * cols, (h * 2 * D + d * 2 + l + 1) * cols), (h * 2 * D + l * D + d) * cols);
  return out;
}
