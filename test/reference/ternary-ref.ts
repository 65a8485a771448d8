// An independent, deliberately literal TypeScript statement of the reference absmean rule
// (microsoft/BitNet quant_weight_int8, evaluated as torch does in the tensor's dtype) and of
// the bitnet-rs packing, for checking converter output. It shares no code with src/.

import { roundHalfEven } from './kernels-ref.js';

const buf = new DataView(new ArrayBuffer(4));

export function bf16ToNumber(bits: number): number {
  buf.setUint32(0, (bits & 0xffff) << 16);
  return buf.getFloat32(0);
}

/** Round an f32 value to the nearest bf16 value, ties to even, by looking at the discarded half. */
export function toBf16(x: number): number {
  buf.setFloat32(0, x);
  const u = buf.getUint32(0);
  const upper = u >>> 16;
  const lower = u & 0xffff;
  let r = upper;
  if (lower > 0x8000 || (lower === 0x8000 && (upper & 1) === 1)) r = upper + 1;
  return bf16ToNumber(r);
}

export function f16ToNumber(h: number): number {
  const e = (h >> 10) & 31;
  const m = h & 1023;
  const s = h & 0x8000 ? -1 : 1;
  if (e === 0) return (s * m) / 2 ** 24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + m / 1024);
}

/** Nearest f16 value (as a number), ties to even, overflow to infinity; by search over the f16 grid. */
export function toF16(x: number): number {
  if (!Number.isFinite(x)) return x;
  const a = Math.abs(x);
  if (a >= 65520) return Math.sign(x) * Infinity;
  const e = a < 2 ** -14 ? -14 : Math.floor(Math.log2(a));
  const quantum = 2 ** (e - 10);
  const q = a / quantum;
  let k = Math.floor(q);
  const frac = q - k;
  if (frac > 0.5 || (frac === 0.5 && k % 2 === 1)) k += 1;
  return Math.sign(x) * k * quantum;
}

export type Dt = 'BF16' | 'F16' | 'F32';
const roundTo = (dt: Dt) => (dt === 'BF16' ? toBf16 : dt === 'F16' ? toF16 : Math.fround);

/** Decodes raw little-endian tensor bytes to numbers. */
export function decodeValues(bytes: Uint8Array, dt: Dt): number[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  if (dt === 'F32') for (let i = 0; i < bytes.length; i += 4) out.push(v.getFloat32(i, true));
  else if (dt === 'BF16') for (let i = 0; i < bytes.length; i += 2) out.push(bf16ToNumber(v.getUint16(i, true)));
  else for (let i = 0; i < bytes.length; i += 2) out.push(f16ToNumber(v.getUint16(i, true)));
  return out;
}

export type Rule = 'offline' | 'online';

/**
 * The absmean rule on one projection: ternary values and the stored scale.
 * offline (the reference, torch >= 2.1 in the tensor's dtype): |W| summed in f32, the mean divided in
 * f32 and rounded to the dtype once; s and every product W*s rounded to the dtype.
 * online (transformers' WeightQuant): W widened to f32, f32 arithmetic throughout.
 */
export function referenceTernary(w: number[], dt: Dt, rule: Rule = 'offline'): { q: Int8Array; scale: number } {
  const r = roundTo(rule === 'online' ? 'F32' : dt);
  let sum = 0;
  for (const x of w) sum += Math.abs(x);
  const mean = r(Math.fround(Math.fround(sum) / Math.fround(w.length)));
  return ternarize(w, r, mean);
}

/**
 * torch 1.13's bf16/f16 mean, which is NOT the reference: the f32 sum rounded to the dtype, divided
 * by dtype(n), rounded again. Only for tests that must tell the two apart.
 */
export function oldTorchTernary(w: number[], dt: Dt): { q: Int8Array; scale: number } {
  const r = roundTo(dt);
  let sum = 0;
  for (const x of w) sum += Math.abs(x);
  return ternarize(w, r, r(Math.fround(r(Math.fround(sum)) / r(w.length))));
}

function ternarize(w: number[], r: (x: number) => number, mean: number): { q: Int8Array; scale: number } {
  const clamped = Math.max(mean, r(1e-5));
  const s = r(Math.fround(1 / clamped));
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) {
    const y = r(Math.fround(w[i] * s));
    q[i] = Math.max(-1, Math.min(1, roundHalfEven(y)));
  }
  return { q, scale: r(Math.fround(1 / s)) };
}

/** The seed's per-row scheme: scale = max(mean|row|, 1e-5) in f32, q = clamp(round(w / scale)). */
export function referenceRowTernary(w: number[], cols: number): { q: Int8Array; scales: number[] } {
  const q = new Int8Array(w.length);
  const scales: number[] = [];
  for (let r0 = 0; r0 < w.length; r0 += cols) {
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += Math.abs(w[r0 + c]);
    const scale = Math.fround(Math.max(Math.fround(sum / cols), Math.fround(1e-5)));
    const inv = Math.fround(1 / scale);
    for (let c = 0; c < cols; c++) q[r0 + c] = Math.max(-1, Math.min(1, roundHalfEven(Math.fround(w[r0 + c] * inv))));
    scales.push(scale);
  }
  return { q, scales };
}

/** Unpacks bitnet-rs words (16 values a word, value i at bits 2i, rows start on a fresh word). */
export function unpackRows(words: Uint32Array, rows: number, cols: number): Int8Array {
  const stride = Math.ceil(cols / 16);
  if (words.length !== rows * stride) throw new Error(`expected ${rows * stride} words, found ${words.length}`);
  const out = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const code = (words[r * stride + (c >> 4)] >>> (2 * (c & 15))) & 3;
      if (code === 3) throw new Error(`invalid code 3 at row ${r}, col ${c}`);
      out[r * cols + c] = code === 1 ? 1 : code === 2 ? -1 : 0;
    }
    // padding must be zero
    for (let c = cols; c < stride * 16; c++) {
      if (((words[r * stride + (c >> 4)] >>> (2 * (c & 15))) & 3) !== 0) throw new Error(`non-zero padding at row ${r}`);
    }
  }
  return out;
}
