// GGUF Q8_0 (docs/gguf.md 7): the quantizeQ8_0 kernel, both builds, against the literal reference of
// test/reference/q8_0-ref.ts (ggml's quantize_row_q8_0_ref semantics) on random rows, ties, zeros,
// subnormals and large values, in every input dtype; and worked examples as literal bytes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DType, type Kernels } from '../build/js/kernels/index.js';
import { f16BitsRef, q8_0BlockRef, refQ8_0 } from './reference/q8_0-ref.js';
import { BUILDS } from './helpers/kernels.js';
import { mulberry32 } from './helpers/common.js';

const DTYPES = [['F32', DType.F32], ['BF16', DType.BF16], ['F16', DType.F16]] as const;
const hex = (b: ArrayLike<number>) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

/** The kernel on n elements of `bytes`, at a misaligned address, its output guarded by canaries. */
function runQ8(k: Kernels, dtype: number, bytes: Uint8Array, n: number, misalign = 0): Uint8Array {
  k.reset();
  const src = k.alloc(bytes.length + misalign) + misalign;
  k.u8(src, bytes.length).set(bytes);
  const size = (n / 32) * 34;
  const base = k.alloc(size + 128 + misalign);
  k.u8(base, size + 128 + misalign).fill(0xa5);
  const dst = base + 64 + misalign;
  k.exports.quantizeQ8_0(dtype, src, n, dst);
  const guard = [...k.u8(base, 64 + misalign), ...k.u8(dst + size, 64)];
  assert.ok(guard.every((b) => b === 0xa5), 'nothing written outside the output');
  return k.u8(dst, size).slice();
}

/** f32 values as bytes of a dtype (BF16/F16: the bit patterns given, or truncations chosen by the caller). */
function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}
const u16Bytes = (bits: number[]) => new Uint8Array(Uint16Array.from(bits).buffer);
const u32Bytes = (bits: number[]) => new Uint8Array(Uint32Array.from(bits).buffer);

function same(k: Kernels, label: string, dtype: number, bytes: Uint8Array, n: number): void {
  const want = refQ8_0(dtype, bytes, n);
  for (const misalign of [0, 3]) {
    const got = runQ8(k, dtype, bytes, n, misalign);
    const at = got.findIndex((b, i) => b !== want[i]);
    if (at >= 0) {
      const block = Math.floor(at / 34);
      assert.unreachable(`${label}: byte ${at} (block ${block}, ${at % 34 < 2 ? 'd' : `q[${(at % 34) - 2}]`}) is ${got[at]}, expected ${want[at]}; block ${hex(got.subarray(34 * block, 34 * block + 34))} vs ${hex(want.subarray(34 * block, 34 * block + 34))}`);
    }
  }
}

/** Random finite bit patterns of a dtype, n of them, drawn from a mix of magnitudes (no NaN or Inf). */
function randomBits(r: () => number, dtype: number, n: number): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const kind = r();
    if (dtype === DType.F32) {
      let v: number;
      if (kind < 0.5) v = (r() - 0.5) * 0.1; // embedding-like
      else if (kind < 0.6) v = 0;
      else if (kind < 0.7) v = (r() - 0.5) * 2 ** -130; // f32 subnormals
      else if (kind < 0.8) v = (r() - 0.5) * 2 ** (Math.floor(r() * 250) - 125);
      else v = (Math.floor(r() * 255) - 127 + 0.5) * 2 ** -7; // halves on a power-of-two grid: ties when amax is 127 * 2^-7
      out.push(v);
    } else {
      // any 16-bit pattern but NaN / Inf (exponent all ones)
      let b: number;
      do b = Math.floor(r() * 65536);
      while (dtype === DType.BF16 ? (b & 0x7f80) === 0x7f80 : (b & 0x7c00) === 0x7c00);
      out.push(b);
    }
  }
  return dtype === DType.F32 ? f32Bytes(out) : u16Bytes(out);
}

test('quantizeQ8_0: random rows of every dtype, in blocks of every kind: simd == scalar == reference', () => {
  const r = mulberry32(81);
  for (const [name, dtype] of DTYPES) {
    for (const blocks of [1, 2, 7, 64]) {
      const bytes = randomBits(r, dtype, 32 * blocks);
      for (const [build, k] of BUILDS) same(k, `${build} ${name} ${blocks} blocks`, dtype, bytes, 32 * blocks);
    }
  }
});

test('quantizeQ8_0: ties (x * id = k + 0.5 exactly) go away from zero; zeros, -0, subnormals, tiny and huge amax', () => {
  const blocks: number[][] = [];
  // amax 127 * 2^e: id = 2^-e exactly, so (k + 0.5) * 2^e lands on the tie k + 0.5
  for (const e of [0, -7, 10, -100]) {
    const b = [127 * 2 ** e];
    for (let j = 1; j < 32; j++) b.push((j % 2 ? 1 : -1) * (2 * j + 0.5) * 2 ** e); // k + 0.5 with k even: away != even
    blocks.push(b);
  }
  blocks.push(Array(32).fill(0)); // d = 0, id = 0
  blocks.push(Array(32).fill(-0));
  blocks.push(Array.from({ length: 32 }, (_, j) => (j - 16) * 2 ** -149)); // f32 subnormals: 1 / d overflows
  blocks.push(Array.from({ length: 32 }, (_, j) => (j === 5 ? 1e-38 : 0))); // one subnormal amongst zeros: 0 * Inf
  blocks.push(Array.from({ length: 32 }, (_, j) => (j + 1) * 1e-37)); // amax 3.2e-36: d subnormal but 1 / d finite
  blocks.push(Array.from({ length: 32 }, (_, j) => (j % 3 ? -1 : 1) * 3e38 * ((j + 1) / 32))); // amax near f32 max: d is fp16 Inf
  blocks.push(Array.from({ length: 32 }, (_, j) => (j - 15.5) * 65504)); // d above 65504
  blocks.push(Array.from({ length: 32 }, (_, j) => (j - 15.5) * 2 ** -20)); // d an fp16 subnormal
  const values = blocks.flat();
  for (const [build, k] of BUILDS) same(k, `${build} special blocks`, DType.F32, f32Bytes(values), values.length);
  // the reference itself: 2.5 -> 3, -4.5 -> -5, 6.5 -> 7 (ties to even would give 2, -4, 6)
  const q = refQ8_0(DType.F32, f32Bytes(blocks[0]), 32);
  assert.equal([1, 2, 3].map((j) => (q[2 + j] << 24) >> 24), [3, -5, 7]);
});

test('quantizeQ8_0: every finite bf16 and f16 pattern, shuffled into blocks: simd == scalar == reference', () => {
  for (const [name, dtype] of DTYPES.slice(1)) {
    const bits: number[] = [];
    for (let b = 0; b < 65536; b++) if ((dtype === DType.BF16 ? b & 0x7f80 : b & 0x7c00) !== (dtype === DType.BF16 ? 0x7f80 : 0x7c00)) bits.push(b);
    const r = mulberry32(82);
    for (let i = bits.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [bits[i], bits[j]] = [bits[j], bits[i]];
    }
    const n = Math.floor(bits.length / 32) * 32;
    // in order too: neighbouring patterns share blocks, so most blocks have a small amax
    for (const order of [bits.slice(0, n), bits.slice(0, n).sort((a, b) => a - b)]) {
      for (const [build, k] of BUILDS) same(k, `${build} ${name} all patterns`, dtype, u16Bytes(order), n);
    }
  }
});

test('quantizeQ8_0: f32 neighbours of every tie of an amax-1 block (id from the f32 d, not the fp16 one)', () => {
  const d = Math.fround(1 / 127);
  const values: number[] = [];
  const scratch = new Float32Array(1);
  const bits = new Uint32Array(scratch.buffer);
  for (let k = 0; k < 127; k++) {
    scratch[0] = Math.fround((k + 0.5) * d);
    for (let s = -2; s <= 2; s++) {
      const copy = new Float32Array([scratch[0]]);
      new Uint32Array(copy.buffer)[0] = bits[0] + s;
      values.push((k % 2 ? -1 : 1) * copy[0]);
    }
  }
  // blocks of 31 of those plus amax 1
  const rows: number[] = [];
  for (let i = 0; i < values.length; i += 31) rows.push(1, ...values.slice(i, i + 31), ...Array(Math.max(0, i + 31 - values.length)).fill(0));
  for (const [build, k] of BUILDS) same(k, `${build} ties of amax 1`, DType.F32, f32Bytes(rows), rows.length);
});

test('Q8_0 worked examples (docs/gguf.md 7), as literal bytes', () => {
  const block = (set: Record<number, number>) => Array.from({ length: 32 }, (_, j) => set[j] ?? 0);
  const expectBytes = (values: number[], want: string, dtype: number = DType.F32, bytes = f32Bytes(values)) => {
    assert.is(hex(q8_0BlockRef(values)), want, 'the reference');
    for (const [build, k] of BUILDS) assert.is(hex(runQ8(k, dtype, bytes, 32)), want, build);
  };
  // amax 127: d = 1.0 (fp16 00 3C), id = 1; 2.5 -> 3 and -0.5 -> -1 (away from zero; ties to even would give 2 and 0)
  expectBytes(block({ 0: 127, 1: -63.5, 2: 0.5, 3: -0.5, 4: 2.5, 5: -1.5 }),
    '00 3c 7f c0 01 ff 03 fe 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00');
  // all zeros: d = 0, id = 0
  expectBytes(block({}), '00 00' + ' 00'.repeat(32));
  // amax 1: d = f32(1/127) = 0.0078740157, stored as fp16 0x2008; 0.011811022 * id = 1.4999999 -> 1, where the
  // fp16 d's inverse would give 1.50009 -> 2
  expectBytes(block({ 0: 1, 1: 0.011811022646725178, 2: -1 }), '08 20 7f 01 81' + ' 00'.repeat(29));
  // BF16 input: amax 2, d = f32(2/127) -> fp16 0x2408, id = 63.5 exactly: -1 -> -63.5, a tie -> -64; 0.5 -> 31.75 -> 32
  expectBytes(block({ 0: 2, 1: -1, 31: 0.5 }), '08 24 7f c0' + ' 00'.repeat(29) + ' 20', DType.BF16, u16Bytes(block({ 0: 0x4000, 1: 0xbf80, 31: 0x3f00 })));
  // F16 input: amax 65504 (the largest half): d = 515.78 -> fp16 0x6008 (516); 1 * id = 0.0019 -> 0
  expectBytes(block({ 0: 65504, 1: -65504, 2: 1 }), '08 60 7f 81' + ' 00'.repeat(30), DType.F16, u16Bytes(block({ 0: 0x7bff, 1: 0xfbff, 2: 0x3c00 })));
  // amax 2^-140 (an f32 subnormal): 1 / d overflows to Inf: d is fp16 0, the non-zero values +-127, zeros 0
  expectBytes(block({ 0: 2 ** -140, 1: -(2 ** -145), 3: 2 ** -149 }), '00 00 7f 81 00 7f' + ' 00'.repeat(28));
  assert.is(f16BitsRef(Math.fround(1 / 127)), 0x2008);
});

test('quantizeQ8_0: n = 0 writes nothing', () => {
  for (const [, k] of BUILDS) assert.is(runQ8(k, DType.F32, new Uint8Array(0), 0).length, 0);
});

test.run();
