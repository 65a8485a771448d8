// The wasm kernels (assembly/): both builds (SIMD and scalar, from build/) against each other and
// against the independent plain-TypeScript reference in test/reference/kernels-ref.ts.
// Runs after `npm run build` (npm test does that first).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  DType,
  KernelDType,
  Rounding,
  compileKernels,
  instantiateKernels,
  kernelWasmUrl,
  simdSupported,
  type Kernels,
} from '../build/js/kernels/index.js';
import { kernelWasmUrl as kernelWasmUrlFromSource } from '../src/kernels/index.js';
import * as ref from './reference/kernels-ref.js';
import { bitnetRs } from './reference/packings-ref.js';
import { BUILDS, scalar, simd } from './helpers/kernels.js';
import { mulberry32 as rng } from './helpers/common.js';


const DTYPES = [
  ['F32', DType.F32],
  ['BF16', DType.BF16],
  ['F16', DType.F16],
] as const;
const ROUNDINGS = [Rounding.NONE, Rounding.BF16, Rounding.F16] as const;
const LENGTHS = [0, 1, 7, 15, 16, 17, 31, 33, 4095, 4097, 8193];

// ---------------------------------------------------------------------------------------------
// helpers

const randInt = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

/** First mismatch of two array-likes, with both values, or nothing. */
function assertSame(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string): void {
  if (actual.length !== expected.length) {
    assert.unreachable(`${label}: length ${actual.length} != expected ${expected.length}`);
  }
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      assert.unreachable(`${label}: first difference at ${i}: got ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

/** The bitnet-rs reference packing (test/reference/packings-ref.ts) as u32 words. */
function refPackRows(values: Int8Array, rows: number, cols: number): { words: Uint32Array; bad: number } {
  const { bytes, bad } = bitnetRs.pack(values, rows, cols);
  return { words: new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4), bad };
}

const GUARD = 64;
const CANARY = 0xa5;

/** Copies `bytes` into fresh memory at an address with the given misalignment; returns its pointer. */
function put(k: Kernels, bytes: Uint8Array, misalign = 0): number {
  const ptr = k.alloc(bytes.length + misalign) + misalign;
  k.u8(ptr, bytes.length).set(bytes);
  return ptr;
}

/** An output area surrounded by canary bytes; `check` fails if anything outside it was written. */
function output(k: Kernels, bytes: number, misalign = 0): { ptr: number; check(label: string): void } {
  const base = k.alloc(GUARD + bytes + GUARD + misalign);
  k.u8(base, GUARD + bytes + GUARD + misalign).fill(CANARY);
  const ptr = base + GUARD + misalign;
  return {
    ptr,
    check(label) {
      const before = k.u8(base, GUARD + misalign);
      const after = k.u8(ptr + bytes, GUARD);
      for (const [name, area] of [['before', before], ['after', after]] as const) {
        const i = area.findIndex((b) => b !== CANARY);
        if (i >= 0) assert.unreachable(`${label}: wrote ${name} its output area (byte ${i})`);
      }
    },
  };
}

function runWiden(k: Kernels, dtype: number, bytes: Uint8Array, n: number, misalign = 0): Uint32Array {
  k.reset();
  const src = put(k, bytes, misalign);
  const dst = output(k, n * 4, misalign);
  k.exports.widen(dtype, src, n, dst.ptr);
  dst.check('widen');
  return Uint32Array.from(new DataViewU32(k.u8(dst.ptr, n * 4)));
}

/** Reads u32 LE from a possibly unaligned byte view. */
class DataViewU32 implements Iterable<number> {
  constructor(private readonly bytes: Uint8Array) {}
  *[Symbol.iterator]() {
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    for (let i = 0; i + 4 <= this.bytes.length; i += 4) yield v.getUint32(i, true);
  }
}

function runAbsSum(k: Kernels, dtype: number, bytes: Uint8Array, n: number, misalign = 0): number {
  k.reset();
  return k.exports.absSum(dtype, put(k, bytes, misalign), n);
}

function runQuantize(k: Kernels, dtype: number, rounding: number, bytes: Uint8Array, n: number, s: number, misalign = 0): Int8Array {
  k.reset();
  const src = put(k, bytes, misalign);
  const dst = output(k, n, misalign);
  k.exports.quantize(dtype, rounding, src, n, s, dst.ptr);
  dst.check('quantize');
  return k.i8(dst.ptr, n).slice();
}

function runPackRows(k: Kernels, values: Int8Array, rows: number, cols: number, misalign = 0): { words: Uint32Array; bad: number } {
  k.reset();
  const src = put(k, new Uint8Array(values.buffer, values.byteOffset, values.byteLength), misalign);
  const nWords = rows * Math.ceil(cols / 16);
  const dst = output(k, nWords * 4, misalign);
  const bad = k.exports.packRows(src, rows, cols, dst.ptr);
  dst.check('packRows');
  return { words: Uint32Array.from(new DataViewU32(k.u8(dst.ptr, nWords * 4))), bad };
}

function runQuantizePackRows(
  k: Kernels, dtype: number, rounding: number, bytes: Uint8Array, rows: number, cols: number, s: number, misalign = 0,
): Uint32Array {
  k.reset();
  const src = put(k, bytes, misalign);
  const nWords = rows * Math.ceil(cols / 16);
  const dst = output(k, nWords * 4, misalign);
  k.exports.quantizePackRows(dtype, rounding, src, rows, cols, s, dst.ptr);
  dst.check('quantizePackRows');
  return Uint32Array.from(new DataViewU32(k.u8(dst.ptr, nWords * 4)));
}

function runVarint(k: Kernels, values: Uint32Array, misalign = 0): Uint8Array {
  k.reset();
  const src = put(k, new Uint8Array(values.buffer, values.byteOffset, values.byteLength), misalign);
  const dst = output(k, values.length * 5, misalign);
  const written = k.exports.varintEncodeU32(src, values.length, dst.ptr);
  // everything past the returned length must still be canary
  const tail = k.u8(dst.ptr + written, values.length * 5 - written);
  const i = tail.findIndex((b) => b !== CANARY);
  if (i >= 0) assert.unreachable(`varint: wrote past its returned length ${written} (byte ${written + i})`);
  dst.check('varint');
  return k.u8(dst.ptr, written).slice();
}

/** convertFloats into a guarded area; the output bit patterns (u16 or u32 per element). */
function runConvert(k: Kernels, srcDtype: number, bytes: Uint8Array, n: number, dstDtype: number, misalign = 0): number[] {
  k.reset();
  const src = put(k, bytes, misalign);
  const size = ref.elemBytes(dstDtype);
  const dst = output(k, n * size, misalign);
  k.exports.convertFloats(srcDtype, src, n, dstDtype, dst.ptr);
  dst.check('convertFloats');
  const view = new DataView(k.memory.buffer, dst.ptr, n * size);
  return Array.from({ length: n }, (_, i) => (size === 4 ? view.getUint32(4 * i, true) : view.getUint16(2 * i, true)));
}

/** Element arrays -> little-endian bytes. */
function bytesOfU16(bits: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Uint16Array.from(bits).buffer);
}
function bytesOfU32(bits: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Uint32Array.from(bits).buffer);
}
function bytesOfF32(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

// Special patterns per dtype: zeros, infinities, NaNs (quiet, signalling, negative), subnormals,
// the thresholds 0.5 and 1.5 and their neighbours.
const SPECIAL_BF16 = [0x0000, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0xffc1, 0x7f81, 0x0001, 0x8001, 0x007f, 0x3f00, 0xbf00,
  0x3f01, 0xbf01, 0x3eff, 0x3fc0, 0xbfc0, 0x3f80, 0x7f7f, 0xff7f];
const SPECIAL_F16 = [0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0xfe01, 0x7d00, 0x0001, 0x8001, 0x03ff, 0x83ff, 0x0400,
  0x3800, 0xb800, 0x3801, 0xb801, 0x37ff, 0x3e00, 0xbe00, 0x3c00, 0x7bff, 0xfbff];
const SPECIAL_F32 = [0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffffffff, 0x7f800001, 0x00000001,
  0x80000001, 0x007fffff, 0x3f000000, 0xbf000000, 0x3f000001, 0xbf000001, 0x3effffff, 0x3f008000, 0xbf008000,
  0x3f008001, 0xbf008001, 0x3f001000, 0xbf001000, 0x3f001001, 0x3f007fff, 0x3fc00000, 0xbfc00000, 0x3f800000,
  0x7f7fffff, 0xff7fffff];

/**
 * n random elements of `dtype` as bytes. 'near': magnitudes concentrated around 0.5..2 times
 * 1/scale-ish (so many products land near the thresholds), plus special patterns; 'bits': any bit
 * pattern at all (all exponents, NaN payloads, subnormals).
 */
function randomInput(dtype: number, n: number, r: () => number, mode: 'near' | 'bits'): Uint8Array {
  const pick = <T>(list: readonly T[]) => list[Math.floor(r() * list.length)];
  if (dtype === DType.F32) {
    const bits = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const u = r();
      if (mode === 'bits') bits[i] = u < 0.05 ? pick(SPECIAL_F32) : Math.floor(r() * 2 ** 32);
      else if (u < 0.05) bits[i] = pick(SPECIAL_F32);
      else if (u < 0.25) bits[i] = (pick([0x3f00, 0xbf00, 0x3fc0, 0xbfc0, 0x3eff, 0x3f01]) * 65536 + randInt(r, 0, 0xffff)) >>> 0;
      else bits[i] = ((r() < 0.5 ? 0x80000000 : 0) | (randInt(r, 116, 129) << 23) | randInt(r, 0, 0x7fffff)) >>> 0;
    }
    return bytesOfU32(bits);
  }
  const bits = new Uint16Array(n);
  const special = dtype === DType.BF16 ? SPECIAL_BF16 : SPECIAL_F16;
  for (let i = 0; i < n; i++) {
    const u = r();
    if (u < 0.05) bits[i] = pick(special);
    else if (mode === 'bits') bits[i] = randInt(r, 0, 0xffff);
    else if (dtype === DType.BF16) bits[i] = (r() < 0.5 ? 0x8000 : 0) | (randInt(r, 116, 129) << 7) | randInt(r, 0, 0x7f);
    else bits[i] = (r() < 0.5 ? 0x8000 : 0) | (randInt(r, 9, 17) << 10) | randInt(r, 0, 0x3ff);
  }
  return bytesOfU16(bits);
}

/** Scales representable in each dtype (the host passes s rounded to the input dtype). */
const SCALES: Record<number, number[]> = {
  [DType.F32]: [1, Math.fround(1 / 0.0123), 0.75, Math.fround(1.0000001)],
  [DType.BF16]: [1, 1.0078125, 50, 0.5, 81.5],
  [DType.F16]: [1, 1.0009765625, 48.03125, 0.5],
};

// ---------------------------------------------------------------------------------------------
// builds and loader

test('builds: both flavors are distinct files with the same exports', () => {
  const simdBytes = readFileSync(kernelWasmUrl('simd'));
  const scalarBytes = readFileSync(kernelWasmUrl('scalar'));
  assert.not.equal(Buffer.compare(simdBytes, scalarBytes), 0, 'the two builds are the same file');
  const names = (k: Kernels) => Object.keys(k.exports).concat(Object.keys(Object.getPrototypeOf(k.exports))).sort();
  assert.equal(names(simd), names(scalar));
  for (const fn of ['widen', 'absSum', 'firstNonFinite', 'quantize', 'packRows', 'quantizePackRows', 'varintEncodeU32', 'heapBase', 'convertFloats',
    'packHfU8', 'unpackHfU8', 'packMsInt2', 'packTq2_0', 'packTq1_0', 'packI2s', 'packQ2_0', 'countRows', 'ternaryBf16', 'quantizeQ8_0', 'unpackI2s', 'unpackTq2_0', 'unpackQ2_0', 'i2sToHfU8']) {
    assert.type((simd.exports as unknown as Record<string, unknown>)[fn], 'function', fn);
  }
  for (const [, k] of BUILDS) {
    assert.not.ok('ABS_SUM_BLOCK' in k.exports, 'absSum has no blocks');
    assert.ok(k.heapBase > 0 && k.heapBase % 4 === 0 && k.heapBase < 65536, `heapBase ${k.heapBase}`);
  }
});

test('codes: every dtype and rounding code, pinned by what the kernels do with it', () => {
  // one table each (src/kernels/codes.ts, assembly/codes.ts): three distinct codes, DType is KernelDType
  assert.equal(Object.values(KernelDType).sort(), [0, 1, 2]);
  assert.is(DType, KernelDType);
  assert.equal([Rounding.NONE, Rounding.BF16, Rounding.F16].sort(), [0, 1, 2]);
  assert.is(Rounding.F32, Rounding.NONE);
  for (const [name, k] of BUILDS) {
    // 1.0 in each dtype's own bits; the other 16-bit reading would give 0.0078125 or 1.875
    assertSame(runWiden(k, KernelDType.BF16, bytesOfU16([0x3f80]), 1), [0x3f800000], `${name} BF16 widens 0x3F80 to 1.0`);
    assertSame(runWiden(k, KernelDType.F16, bytesOfU16([0x3c00]), 1), [0x3f800000], `${name} F16 widens 0x3C00 to 1.0`);
    assertSame(runWiden(k, KernelDType.F32, bytesOfU32([0x3f800000, 0x40000000]), 2), [0x3f800000, 0x40000000], `${name} F32 copies`);
    // each rounding code by its threshold: the largest product that still quantizes to 0, and the next f32
    const thresholds: Array<[number, number]> = [[Rounding.NONE, 0x3f000000], [Rounding.BF16, 0x3f008000], [Rounding.F16, 0x3f001000]];
    for (const [rounding, t] of thresholds) {
      const q = runQuantize(k, KernelDType.F32, rounding, bytesOfU32([t, t + 1]), 2, 1);
      assertSame(Array.from(q), [0, 1], `${name} rounding code ${rounding}: threshold 0x${t.toString(16)}`);
    }
  }
});

test('loader: SIMD detection, auto flavor, wasm URLs from the build and from source', async () => {
  assert.is(simdSupported(), true, 'Node 20 supports wasm SIMD');
  assert.is((await compileKernels()).flavor, 'simd');
  for (const flavor of ['simd', 'scalar'] as const) {
    const built = kernelWasmUrl(flavor);
    const fromSource = kernelWasmUrlFromSource(flavor);
    assert.is(built.href, fromSource.href, 'src/ (tsx) and build/js/ resolve to the same file');
    assert.ok(fileURLToPath(built).endsWith(`/build/kernels.${flavor}.wasm`), built.href);
    assert.ok(existsSync(built), built.href);
  }
});

// ---------------------------------------------------------------------------------------------
// widen

test('widen: hand-checked conversions', () => {
  const f16 = [0x3c00, 0x0001, 0x03ff, 0x0400, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x7d00, 0x8000, 0xc000, 0x3555];
  const f16Expect = [0x3f800000, 0x33800000, 0x387fc000, 0x38800000, 0x477fe000, 0x7f800000, 0xff800000, 0x7fc00000,
    0x7fa00000, 0x80000000, 0xc0000000, 0x3eaaa000];
  const bf16 = [0x3f80, 0x8001, 0x7fc1, 0xff80, 0x0000];
  const bf16Expect = [0x3f800000, 0x80010000, 0x7fc10000, 0xff800000, 0];
  const f32 = [0x7f800001, 0x80000000, 0x12345678];
  for (const [name, k] of BUILDS) {
    assertSame(runWiden(k, DType.F16, bytesOfU16(f16), f16.length), f16Expect, `${name} f16`);
    assertSame(runWiden(k, DType.BF16, bytesOfU16(bf16), bf16.length), bf16Expect, `${name} bf16`);
    assertSame(runWiden(k, DType.F32, bytesOfU32(f32), f32.length), f32, `${name} f32`);
  }
  assertSame(ref.refWiden(DType.F16, bytesOfU16(f16), f16.length), f16Expect, 'reference f16');
});

test('widen: every dtype and length, random bit patterns: simd == scalar == reference', () => {
  const r = rng(1);
  for (const [dname, dtype] of DTYPES) {
    for (const n of LENGTHS) {
      const bytes = randomInput(dtype, n, r, 'bits');
      const expected = ref.refWiden(dtype, bytes, n);
      for (const [name, k] of BUILDS) assertSame(runWiden(k, dtype, bytes, n), expected, `${name} ${dname} n=${n}`);
    }
  }
});

test('widen: all 65536 f16 and bf16 bit patterns', () => {
  const all = bytesOfU16(Array.from({ length: 65536 }, (_, i) => i));
  for (const [dname, dtype] of [['F16', DType.F16], ['BF16', DType.BF16]] as const) {
    const expected = ref.refWiden(dtype, all, 65536);
    for (const [name, k] of BUILDS) assertSame(runWiden(k, dtype, all, 65536), expected, `${name} ${dname}`);
  }
});

// ---------------------------------------------------------------------------------------------
// absSum

/** Relative error bound of an f64 sum of n non-negative terms: (n + 8) * 2^-53 (lanes included). */
const sumBound = (n: number, exact: number) => (n + 8) * 2 ** -53 * exact + 2 ** -1074;

test('absSum: every dtype and length, near and wide-range data: simd == scalar == literal reference', () => {
  const r = rng(2);
  for (const [dname, dtype] of DTYPES) {
    for (const mode of ['near', 'bits', 'wide'] as const) {
      for (const n of [...LENGTHS, 8, 9, 4096, 12288 + 5, 40000]) {
        const clean = mode === 'wide' ? wideInput(dtype, n, r) : tame(dtype, randomInput(dtype, n, r, mode));
        const expected = ref.refAbsSum(dtype, clean, n);
        const exact = ref.absSumExactUnits(dtype, clean, n) as bigint;
        const exactNumber = Number(exact) / 2 ** 149;
        assert.ok(Math.abs(expected - exactNumber) <= sumBound(n, exactNumber),
          `${dname} ${mode} n=${n}: reference ${expected} vs exact ${exactNumber}`);
        for (const [name, k] of BUILDS) {
          const got = runAbsSum(k, dtype, clean, n);
          assert.ok(Object.is(got, expected), `${name} ${dname} ${mode} n=${n}: ${got} != ${expected}`);
        }
      }
    }
  }
});

/**
 * Magnitudes spread over 2^-40 .. 2^21 (any significand, either sign): the f64 sum rounds in
 * every order, so orders are told apart (F16: 2^-14 .. 2^15, where sums stay exact).
 */
function wideInput(dtype: number, n: number, r: () => number): Uint8Array {
  if (dtype === DType.F32) {
    return bytesOfU32(Array.from({ length: n }, () =>
      ((r() < 0.5 ? 0x80000000 : 0) | (randInt(r, 87, 147) << 23) | randInt(r, 0, 0x7fffff)) >>> 0));
  }
  if (dtype === DType.BF16) {
    return bytesOfU16(Array.from({ length: n }, () => (r() < 0.5 ? 0x8000 : 0) | (randInt(r, 87, 147) << 7) | randInt(r, 0, 0x7f)));
  }
  return bytesOfU16(Array.from({ length: n }, () => (r() < 0.5 ? 0x8000 : 0) | (randInt(r, 1, 30) << 10) | randInt(r, 0, 0x3ff)));
}

/**
 * A copy of the input fit for sums: every NaN, Inf or huge (> 1e30) element replaced by 1.0 in
 * that dtype. NaN/Inf propagation has its own test.
 */
function tame(dtype: number, bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  const size = ref.elemBytes(dtype);
  const one = dtype === DType.F32 ? [0, 0, 0x80, 0x3f] : dtype === DType.BF16 ? [0x80, 0x3f] : [0x00, 0x3c];
  for (let i = 0; i * size < out.length; i++) {
    const v = ref.elementValue(dtype, out, i);
    if (!(Math.abs(v) <= 1e30)) out.set(one, i * size);
  }
  return out;
}

test('absSum: the wide-range test data tells the specified order from other orders', () => {
  // Guards the previous test against being trivially satisfied: where additions round, another
  // lane assignment (or f32 lanes, as before) gives other bits on this data. (How the 8 lanes are
  // combined rarely shows on random data: the next test checks that on purpose-built data.)
  const r = rng(3);
  for (const [dname, dtype] of [['F32', DType.F32], ['BF16', DType.BF16]] as const) {
    const n = 40000;
    const bytes = wideInput(dtype, n, r);
    const specified = ref.refAbsSum(dtype, bytes, n);
    const others: Array<[string, number]> = [
      ['sequential', ref.absSumF64(dtype, bytes, n)],
      ['4 lanes', ref.absSumLanes(dtype, bytes, n, 4)],
      ['16 lanes', ref.absSumLanes(dtype, bytes, n, 16)],
      ['f32 lanes', ref.absSumLanes(dtype, bytes, n, 8, true)],
    ];
    for (const [label, other] of others) assert.is.not(other, specified, `${dname} ${label}`);
  }
});

test('absSum: lanes are added sequentially in lane order 0..7, in the loop and in the tail', () => {
  // x0 = 2^60 (lane 0), lane j holds 2^60, lane j + 1 holds 320 (all other elements 0). In order:
  // (2^60 + 2^60) + 320 = 2^61 + 320 -> 2^61 + 512 (f64 spacing 512 there). Lane j + 1 first:
  // 2^60 + 320 -> 2^60 + 256, + 2^60 = 2^61 + 256, a tie -> 2^61; pairwise for even j also 2^61.
  for (const [dname, dtype] of [['F32', DType.F32], ['BF16', DType.BF16]] as const) {
    for (const base of [0, 8, 16]) {
      for (let j = 1; j < 7; j++) {
        for (const n of [base + j + 2, base + 8, base + 24]) { // tail only, a full group, more groups after
          const values = new Array(n).fill(0);
          values[base] = 2 ** 60;
          values[base + j] = 2 ** 60;
          values[base + j + 1] = 320;
          const bytes = dtype === DType.F32 ? bytesOfF32(values) : bytesOfU16(values.map((v) => ref.f32Bits(v) >>> 16));
          const label = `${dname} base=${base} j=${j} n=${n}`;
          assert.is(ref.refAbsSum(dtype, bytes, n), 2 ** 61 + 512, `reference ${label}`);
          if (j % 2 === 0) assert.is(ref.absSumLanesTree(dtype, bytes, n), 2 ** 61, `pairwise ${label}`);
          for (const [name, k] of BUILDS) assert.is(runAbsSum(k, dtype, bytes, n), 2 ** 61 + 512, `${name} ${label}`);
        }
      }
    }
  }
});

test('absSum: lane = i % 8 counted from src, each lane in index order before the lanes meet', () => {
  // x0 = 2^53 (lane 0); x(k), x(k + 8) = 1 share a lane: 1 + 1 = 2 exactly, 2^53 + 2 exactly.
  // Added one by one to 2^53 (sequential sum, or 16 lanes) each 1 is a tie that rounds to 2^53.
  for (const [dname, dtype] of [['F32', DType.F32], ['BF16', DType.BF16]] as const) {
    for (let k0 = 1; k0 < 8; k0++) {
      for (const n of [k0 + 9, 32]) {
        const values = new Array(n).fill(0);
        values[0] = 2 ** 53;
        values[k0] = 1;
        values[k0 + 8] = 1;
        const bytes = dtype === DType.F32 ? bytesOfF32(values) : bytesOfU16(values.map((v) => ref.f32Bits(v) >>> 16));
        const label = `${dname} lane ${k0} n=${n}`;
        assert.is(ref.refAbsSum(dtype, bytes, n), 2 ** 53 + 2, `reference ${label}`);
        assert.is(ref.absSumF64(dtype, bytes, n), 2 ** 53, `sequential ${label}`);
        assert.is(ref.absSumLanes(dtype, bytes, n, 16), 2 ** 53, `16 lanes ${label}`);
        for (const [name, k] of BUILDS) {
          assert.is(runAbsSum(k, dtype, bytes, n), 2 ** 53 + 2, `${name} ${label}`);
          // the same data one element later: lanes are counted from src, not from an address
          k.reset();
          const p = put(k, new Uint8Array(bytes.length + 8), 0);
          k.u8(p + ref.elemBytes(dtype), bytes.length).set(bytes);
          assert.is(k.exports.absSum(dtype, p + ref.elemBytes(dtype), n), 2 ** 53 + 2, `${name} ${label} src + 1`);
        }
      }
    }
  }
});

/**
 * Realistic weights: ~N(0, 0.02), 1% outliers up to 8, 0.5% zeros (both signs), 0.2% tiny values
 * (2^-22 .. 2^-14), as bf16 or f16 bit patterns.
 */
function realisticWeights(dtype: number, n: number, r: () => number): Uint16Array {
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const u = r();
    let v: number;
    if (u < 0.005) v = 0;
    else if (u < 0.007) v = 2 ** (-22 + 8 * r());
    else if (u < 0.017) v = 0.1 * 80 ** r();
    else v = 0.02 * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    const neg = r() < 0.5;
    out[i] = (neg ? 0x8000 : 0) | (dtype === DType.BF16 ? (ref.f32Bits(Math.abs(v)) >>> 16) : halfBits(Math.abs(v)));
  }
  return out;
}

/** A finite magnitude (< 65504) -> f16 bits, rounded to nearest (any rounding would do for data). */
function halfBits(v: number): number {
  if (v < 2 ** -14) return Math.round(v / 2 ** -24); // subnormal (0x400 = the smallest normal is fine)
  const e = Math.floor(Math.log2(v));
  const m = Math.round((v / 2 ** e - 1) * 1024);
  return m === 1024 ? ((e + 16) << 10) : ((e + 15) << 10) | m;
}

test('absSum: bf16 and f16 weights spanning a realistic range sum exactly (BigInt check)', () => {
  const r = rng(4);
  for (const [dname, dtype] of [['BF16', DType.BF16], ['F16', DType.F16]] as const) {
    for (const n of [1000, 40003, 2_000_000]) {
      const bits = realisticWeights(dtype, n, r);
      const bytes = bytesOfU16(bits);
      const exact = ref.absSumExactUnits16(dtype, bits);
      // the documented condition for exactness (assembly/absmean.ts): total < 2^45 * min |x| (bf16),
      // total < 2^42 * min |x| or total < 2^29 (f16)
      let minAbs = Infinity;
      for (const b of bits) if (b & 0x7fff) minAbs = Math.min(minAbs, ref.elementValue(dtype, bytesOfU16([b & 0x7fff]), 0));
      const total = Number(exact) / 2 ** 149;
      const limit = dtype === DType.BF16 ? 2 ** 45 * minAbs : Math.max(2 ** 42 * minAbs, 2 ** 29);
      assert.ok(total < limit, `${dname} n=${n}: test data outside the exact range (total ${total}, min |x| ${minAbs})`);
      if (n <= 40003) assert.is(ref.absSumExactUnits(dtype, bytes, n), exact, `${dname} n=${n}: two exact sums agree`);
      for (const [name, k] of BUILDS) {
        const got = runAbsSum(k, dtype, bytes, n);
        assert.is(ref.toUnits(got), exact, `${name} ${dname} n=${n}: ${got} is not the exact sum`);
      }
      // the check can fail: f32 lanes (the previous kernel's accumulators) and a sequential f32
      // sum are not exact on this data
      if (n >= 40003) {
        const sample = bytes.subarray(0, 2 * 40003);
        const exactSample = ref.absSumExactUnits16(dtype, bits.subarray(0, 40003));
        assert.is.not(ref.toUnits(ref.absSumLanes(dtype, sample, 40003, 8, true)), exactSample, `${dname} f32 lanes`);
        assert.is.not(ref.toUnits(ref.absSumLanes(dtype, sample, 40003, 1, true)), exactSample, `${dname} f32 sequential`);
      }
    }
  }
});

test('absSum: bf16 weights split into arbitrary chunks add up (in f64) to exactly the one-call result', () => {
  const r = rng(5);
  const n = 100_003;
  const bits = realisticWeights(DType.BF16, n, r);
  const exact = ref.absSumExactUnits16(DType.BF16, bits);
  for (const [name, k] of BUILDS) {
    k.reset();
    const src = put(k, bytesOfU16(bits));
    const whole = k.exports.absSum(DType.BF16, src, n);
    assert.is(ref.toUnits(whole), exact, `${name}: the one-call result is exact`);
    const splits: Array<[string, () => number]> = [
      ...[1, 3, 7, 8, 9, 1000, 4095, 4096, 4097, 33_333, 99_999].map((c) => [`chunks of ${c}`, () => c] as [string, () => number]),
      ['random chunks 1..20000', () => randInt(r, 1, 20000)],
      ['random chunks 1..17', () => randInt(r, 1, 17)],
    ];
    for (const [label, next] of splits) {
      let total = 0;
      let calls = 0;
      for (let start = 0; start < n; calls++) {
        const len = Math.min(next(), n - start);
        total += k.exports.absSum(DType.BF16, src + 2 * start, len);
        start += len;
      }
      assert.ok(Object.is(total, whole), `${name} ${label} (${calls} calls): ${total} != ${whole}`);
    }
  }
  // and the property is not automatic: with f32 lanes, 1000-element chunks change the bits
  const bytes = bytesOfU16(bits);
  let chunked = 0;
  for (let start = 0; start < n; start += 1000) {
    const len = Math.min(1000, n - start);
    chunked += ref.absSumLanes(DType.BF16, bytes.subarray(2 * start, 2 * (start + len)), len, 8, true);
  }
  assert.is.not(chunked, ref.absSumLanes(DType.BF16, bytes, n, 8, true), 'f32 lanes: chunking changes the bits');
});

test('absSum: NaN and Inf propagate; zeros, signed zeros and empty input sum to +0', () => {
  for (const [name, k] of BUILDS) {
    for (const n of [1, 9, 17, 4097]) {
      const values = new Array(n).fill(0.25);
      values[n - 1] = NaN;
      assert.ok(Number.isNaN(runAbsSum(k, DType.F32, bytesOfF32(values), n)), `${name} NaN n=${n}`);
      values[n - 1] = -Infinity;
      assert.is(runAbsSum(k, DType.F32, bytesOfF32(values), n), Infinity, `${name} -Inf n=${n}`);
      values[0] = Infinity; // Inf + Inf stays Inf, in the same or another lane
      assert.is(runAbsSum(k, DType.F32, bytesOfF32(values), n), Infinity, `${name} Inf+Inf n=${n}`);
      values[Math.floor(n / 2)] = NaN;
      assert.ok(Number.isNaN(runAbsSum(k, DType.F32, bytesOfF32(values), n)), `${name} NaN+Inf n=${n}`);
    }
    // every position (loop lanes 0..7 and tail lanes) propagates, for every dtype
    const nanBits = { [DType.F32]: 0xffc00001, [DType.BF16]: 0xffc1, [DType.F16]: 0x7d00 } as Record<number, number>;
    const infBits = { [DType.F32]: 0xff800000, [DType.BF16]: 0xff80, [DType.F16]: 0xfc00 } as Record<number, number>;
    const oneBits = { [DType.F32]: 0x3f800000, [DType.BF16]: 0x3f80, [DType.F16]: 0x3c00 } as Record<number, number>;
    for (const [dname, dtype] of DTYPES) {
      const n = 21;
      for (let at = 0; at < n; at++) {
        for (const [what, special] of [['NaN', nanBits[dtype]], ['Inf', infBits[dtype]]] as const) {
          const b = new Array(n).fill(oneBits[dtype]);
          b[at] = special;
          const bytes = dtype === DType.F32 ? bytesOfU32(b) : bytesOfU16(b);
          const got = runAbsSum(k, dtype, bytes, n);
          if (what === 'NaN') assert.ok(Number.isNaN(got), `${name} ${dname} NaN at ${at}: ${got}`);
          else assert.is(got, Infinity, `${name} ${dname} Inf at ${at}`);
        }
      }
    }
    for (const [dname, dtype] of DTYPES) {
      for (const n of [0, 1, 33, 8193]) {
        const zeros = new Uint8Array(n * ref.elemBytes(dtype));
        assert.ok(Object.is(runAbsSum(k, dtype, zeros, n), 0), `${name} ${dname} zeros n=${n}`);
        // -0 everywhere: |x| clears the sign, so the sum is +0
        const negZeros = zeros.slice();
        for (let i = ref.elemBytes(dtype) - 1; i < negZeros.length; i += ref.elemBytes(dtype)) negZeros[i] = 0x80;
        assert.ok(Object.is(runAbsSum(k, dtype, negZeros, n), 0), `${name} ${dname} -0 n=${n}`);
      }
      // empty input reads nothing: any pointer will do
      assert.ok(Object.is(k.exports.absSum(dtype, 0, 0), 0), `${name} ${dname} empty`);
    }
    // signs do not matter, subnormals count
    assert.is(runAbsSum(k, DType.F32, bytesOfF32([-1.5, 1.5, -2]), 3), 5, `${name} signs`);
    assert.is(runAbsSum(k, DType.F16, bytesOfU16([0x8001, 0x0001]), 2), 2 * 2 ** -24, `${name} f16 subnormals`);
    assert.is(runAbsSum(k, DType.F32, bytesOfU32([0x00000001, 0x80000001]), 2), 2 * 2 ** -149, `${name} f32 subnormals`);
  }
});

// ---------------------------------------------------------------------------------------------
// firstNonFinite

test('firstNonFinite: every dtype, length and alignment, Inf/NaN at every kind of place: simd == scalar == reference', () => {
  const r = rng(11);
  for (const [dname, dtype] of DTYPES) {
    for (const n of [...LENGTHS, 8, 9, 40000]) {
      for (const misalign of [0, 2, 6]) {
        // random bits (specials included), then kept finite or given one non-finite element at a chosen place
        const bytes = randomInput(dtype, n, r, 'bits');
        bytes.set(tame(dtype, bytes));
        const places = n === 0 ? [-1] : [-1, 0, n - 1, Math.floor(n / 2), randInt(r, 0, n - 1), Math.min(n - 1, 8 * Math.floor((n - 1) / 8))];
        for (const at of places) {
          const copy = bytes.slice();
          if (at >= 0) {
            const view = new DataView(copy.buffer);
            const special = dtype === DType.F32 ? [0x7f800000, 0xff800000, 0x7fc00001, 0xffbfffff][randInt(r, 0, 3)] : dtype === DType.BF16 ? [0x7f80, 0xff80, 0x7fc1, 0xff81][randInt(r, 0, 3)] : [0x7c00, 0xfc00, 0x7e01, 0xfc01][randInt(r, 0, 3)];
            if (dtype === DType.F32) view.setUint32(at * 4, special >>> 0, true);
            else view.setUint16(at * 2, special, true);
          }
          // the reference: the first element whose value is not finite
          let expected = n;
          for (let i = 0; i < n; i++) if (!Number.isFinite(ref.elementValue(dtype, copy, i))) { expected = i; break; }
          assert.is(expected, at >= 0 ? at : n, `${dname} n=${n}: the test data has one non-finite element where placed`);
          for (const [name, k] of BUILDS) {
            k.reset();
            const got = k.exports.firstNonFinite(dtype, put(k, copy, misalign), n);
            assert.is(got, expected, `${name} ${dname} n=${n} misalign=${misalign} at=${at}`);
          }
        }
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// quantize

test('quantize: hand-checked rule (ties, clamps, bf16/f16 rounding, NaN, Inf, signed zero, subnormals)', () => {
  const F = Math.fround;
  const bits = (u: number) => ref.f32FromBits(u);
  // [x (f32, s = 1), rounding, expected]
  const cases: Array<[number, number, number]> = [
    [0.5, 0, 0], [-0.5, 0, 0], // ties go to the even 0
    [bits(0x3f000001), 0, 1], [bits(0xbf000001), 0, -1], [bits(0x3effffff), 0, 0],
    [1.5, 0, 1], [-1.5, 0, -1], [2.5, 0, 1], [-1e30, 0, -1], [F(0.7), 0, 1], [F(-0.7), 0, -1],
    [NaN, 0, 0], [Infinity, 0, 1], [-Infinity, 0, -1], [-0, 0, 0], [0, 0, 0], [bits(1), 0, 0], [bits(0x80000001), 0, 0],
    // values just above 0.5 that round to 0.5 only because of bf16 rounding
    [F(0.501), 0, 1], [F(0.501), 1, 0], [F(-0.501), 1, 0], [F(0.501), 2, 1],
    [bits(0x3f008000), 1, 0], [bits(0x3f008001), 1, 1], [bits(0xbf008000), 1, 0], [bits(0xbf008001), 1, -1],
    [bits(0x3f007fff), 1, 0], [bits(0x3eff8000), 1, 0], // rounds up to exactly 0.5: still 0
    // f16 significand: spacing 2^-11 at 0.5
    [bits(0x3f001000), 2, 0], [bits(0x3f001001), 2, 1], [bits(0xbf001000), 2, 0], [bits(0xbf001001), 2, -1],
    [F(0.5001), 2, 0], [F(0.5001), 0, 1],
    [bits(0x7f7fffff), 1, 1], [bits(0xff7fffff), 1, -1], // rounds to +-Inf
    [NaN, 1, 0], [NaN, 2, 0], [Infinity, 1, 1], [-Infinity, 2, -1],
  ];
  for (const [name, k] of BUILDS) {
    for (const rounding of ROUNDINGS) {
      const picked = cases.filter((c) => c[1] === rounding);
      const got = runQuantize(k, DType.F32, rounding, bytesOfF32(picked.map((c) => c[0])), picked.length, 1);
      assertSame(Array.from(got), picked.map((c) => c[2]), `${name} rounding ${rounding}`);
    }
  }
  for (const [x, rounding, expected] of cases) {
    assert.is(ref.refTernary(x, 1, rounding), expected, `reference x=${x} rounding ${rounding}`);
  }
  for (const [name, k] of BUILDS) {
    // bf16 input and scale: 0.50390625 * 0.99609375 = 0.501922607421875 exactly, which bf16 rounds
    // down to 0.5 (-> 0) while f32 keeps it above 0.5 (-> 1); 0.5078125 * 0.99609375 rounds to 0.50390625
    const x = bytesOfU16([0x3f01, 0xbf01, 0x3f02]);
    assertSame(Array.from(runQuantize(k, DType.BF16, Rounding.BF16, x, 3, 0.99609375)), [0, 0, 1], `${name} bf16 rounding`);
    assertSame(Array.from(runQuantize(k, DType.BF16, Rounding.NONE, x, 3, 0.99609375)), [1, -1, 1], `${name} no rounding`);
    // f16 input: 1.5 * 1 is a tie between 1 and 2 -> 2 -> clamped to 1; 0x3800 = 0.5 -> 0
    const h = bytesOfU16([0x3e00, 0xbe00, 0x3800, 0x0001, 0x7e00, 0xfc00]);
    assertSame(Array.from(runQuantize(k, DType.F16, Rounding.F16, h, 6, 1)), [1, -1, 0, 0, 0, -1], `${name} f16`);
  }
});

test('quantize: every dtype x rounding x length, near-threshold data: simd == scalar == reference', () => {
  const r = rng(5);
  for (const [dname, dtype] of DTYPES) {
    for (const rounding of ROUNDINGS) {
      for (const n of LENGTHS) {
        const s = SCALES[dtype][randInt(r, 0, SCALES[dtype].length - 1)];
        const bytes = randomInput(dtype, n, r, n % 2 ? 'near' : 'bits');
        const expected = ref.refQuantize(dtype, rounding, bytes, n, s);
        for (const [name, k] of BUILDS) {
          assertSame(runQuantize(k, dtype, rounding, bytes, n, s), expected, `${name} ${dname} r${rounding} n=${n} s=${s}`);
        }
      }
    }
  }
});

test('quantize: all 65536 bf16 and f16 inputs x scales x roundings', () => {
  const all = bytesOfU16(Array.from({ length: 65536 }, (_, i) => i));
  for (const [dname, dtype] of [['BF16', DType.BF16], ['F16', DType.F16]] as const) {
    for (const s of SCALES[dtype]) {
      for (const rounding of ROUNDINGS) {
        const expected = ref.refQuantize(dtype, rounding, all, 65536, s);
        for (const [name, k] of BUILDS) {
          assertSame(runQuantize(k, dtype, rounding, all, 65536, s), expected, `${name} ${dname} s=${s} r${rounding}`);
        }
      }
    }
  }
});

test('quantize: every f32 in dense bands around +-0.5 and +-1.5, every rounding', () => {
  const bands: Array<[number, number]> = [[0x3eff0000, 0x3f020000], [0x3fbf0000, 0x3fc10000]];
  const bits: number[] = [];
  for (const [lo, hi] of bands) {
    for (let u = lo; u < hi; u++) bits.push(u, (u | 0x80000000) >>> 0);
  }
  const bytes = bytesOfU32(bits);
  for (const rounding of ROUNDINGS) {
    const expected = ref.refQuantize(DType.F32, rounding, bytes, bits.length, 1);
    for (const [name, k] of BUILDS) {
      assertSame(runQuantize(k, DType.F32, rounding, bytes, bits.length, 1), expected, `${name} rounding ${rounding}`);
    }
  }
});

test('quantize: all-zero and all-(-0) input gives zeros', () => {
  for (const [name, k] of BUILDS) {
    for (const [dname, dtype] of DTYPES) {
      for (const n of [1, 16, 33, 4097]) {
        const zeros = new Uint8Array(n * ref.elemBytes(dtype));
        const q = runQuantize(k, dtype, Rounding.BF16, zeros, n, 1e30);
        assert.ok(q.every((v) => v === 0), `${name} ${dname} n=${n}`);
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// packRows

test('packRows: hand-checked words', () => {
  for (const [name, k] of BUILDS) {
    assert.equal(Array.from(runPackRows(k, Int8Array.from([1, -1, 0, 1]), 1, 4).words), [0x49], name);
    assert.equal(Array.from(runPackRows(k, Int8Array.from([1, 0, -1, -1, -1, 1]), 2, 3).words), [0x21, 0x1a], name);
    const ones = runPackRows(k, new Int8Array(17).fill(1), 1, 17);
    assert.equal(Array.from(ones.words), [0x55555555, 0x1], `${name} row tail is zero-padded`);
    const minus = runPackRows(k, new Int8Array(32).fill(-1), 2, 16);
    assert.equal(Array.from(minus.words), [0xaaaaaaaa, 0xaaaaaaaa], name);
    const invalid = runPackRows(k, Int8Array.from([2, -2, 127, -128, 1, 3, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0, 5]), 1, 17);
    assert.equal(Array.from(invalid.words), [(0b01 << 8) | (0b10 << 14), 0], `${name} invalid values pack as 0`);
    assert.is(invalid.bad, 6, `${name} invalid count`);
  }
});

test('packRows: shapes x random ternary with invalid values: simd == scalar == reference', () => {
  const r = rng(6);
  const shapes: Array<[number, number]> = [[0, 5], [5, 0], [1, 8193], [3, 4097], [2, 4095]];
  for (const rows of [1, 2, 3]) for (const cols of [1, 7, 15, 16, 17, 31, 32, 33, 100]) shapes.push([rows, cols]);
  for (const [rows, cols] of shapes) {
    for (const invalidRate of [0, 0.02]) {
      const values = new Int8Array(rows * cols);
      for (let i = 0; i < values.length; i++) {
        values[i] = r() < invalidRate ? [2, -2, 3, 127, -128, 64][randInt(r, 0, 5)] : randInt(r, -1, 1);
      }
      const expected = refPackRows(values, rows, cols);
      if (invalidRate === 0) assert.is(expected.bad, 0);
      for (const [name, k] of BUILDS) {
        const got = runPackRows(k, values, rows, cols);
        assertSame(got.words, expected.words, `${name} ${rows}x${cols}`);
        assert.is(got.bad, expected.bad, `${name} ${rows}x${cols} invalid count`);
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// quantizePackRows

test('quantizePackRows: == packRows(quantize()) == reference, every dtype x rounding x shape', () => {
  const r = rng(7);
  const shapes: Array<[number, number]> = [[1, 8193], [2, 4097], [3, 4095], [0, 16], [4, 0]];
  for (const rows of [1, 3]) for (const cols of [1, 7, 15, 16, 17, 31, 33, 48, 100]) shapes.push([rows, cols]);
  for (const [dname, dtype] of DTYPES) {
    for (const rounding of ROUNDINGS) {
      for (const [rows, cols] of shapes) {
        const n = rows * cols;
        const s = SCALES[dtype][randInt(r, 0, SCALES[dtype].length - 1)];
        const bytes = randomInput(dtype, n, r, 'near');
        const expected = refPackRows(ref.refQuantize(dtype, rounding, bytes, n, s), rows, cols).words;
        for (const [name, k] of BUILDS) {
          const label = `${name} ${dname} r${rounding} ${rows}x${cols} s=${s}`;
          assertSame(runQuantizePackRows(k, dtype, rounding, bytes, rows, cols, s), expected, label);
          const unfused = runPackRows(k, runQuantize(k, dtype, rounding, bytes, n, s), rows, cols);
          assertSame(unfused.words, expected, `${label} unfused`);
          assert.is(unfused.bad, 0);
        }
      }
    }
  }
});

test('quantizePackRows: the bf16 hot path on a realistic tensor (64 x 2560, the reference scale rule)', () => {
  const r = rng(8);
  const rows = 64;
  const cols = 2560;
  const bits = new Uint16Array(rows * cols);
  let sum = 0;
  for (let i = 0; i < bits.length; i++) {
    // roughly normal weights with sigma 0.02, rounded to bf16
    const g = (r() + r() + r() + r() - 2) * 0.035;
    bits[i] = ref.f32Bits(ref.roundSignificand(Math.fround(g), 7)) >>> 16;
    sum += Math.abs(ref.f32FromBits(bits[i] * 65536));
  }
  // docs/formats.md section 2: mean rounded to bf16, s = bf16(1 / mean)
  const mean = ref.roundSignificand(Math.fround(sum / bits.length), 7);
  const s = ref.roundSignificand(Math.fround(1 / mean), 7);
  const bytes = bytesOfU16(bits);
  const expected = refPackRows(ref.refQuantize(DType.BF16, Rounding.BF16, bytes, bits.length, s), rows, cols).words;
  // all three codes occur, and rounding matters for some elements on this data
  const codes = new Set<number>();
  for (const w of expected) for (let j = 0; j < 32; j += 2) codes.add((w >>> j) & 3);
  assert.equal([...codes].sort(), [0, 1, 2]);
  const unrounded = refPackRows(ref.refQuantize(DType.BF16, Rounding.NONE, bytes, bits.length, s), rows, cols).words;
  assert.ok(unrounded.some((w, i) => w !== expected[i]), 'bf16 rounding changes some values');
  for (const [name, k] of BUILDS) {
    assertSame(runQuantizePackRows(k, DType.BF16, Rounding.BF16, bytes, rows, cols, s), expected, name);
  }
});

test('quantizePackRows: all-zero input packs to zero words', () => {
  for (const [name, k] of BUILDS) {
    for (const [dname, dtype] of DTYPES) {
      const rows = 3;
      const cols = 33;
      const words = runQuantizePackRows(k, dtype, Rounding.NONE, new Uint8Array(rows * cols * ref.elemBytes(dtype)), rows, cols, 7);
      assert.equal(Array.from(words), new Array(rows * 3).fill(0), `${name} ${dname}`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// varint

test('varint: the bincode worked example and the length boundaries', () => {
  for (const [name, k] of BUILDS) {
    assert.equal(Array.from(runVarint(k, Uint32Array.from([5, 300, 70000]))),
      [0x05, 0xfb, 0x2c, 0x01, 0xfc, 0x70, 0x11, 0x01, 0x00], name);
    assert.equal(Array.from(runVarint(k, Uint32Array.from([250, 251, 65535, 65536, 0xffffffff, 0]))),
      [250, 0xfb, 251, 0, 0xfb, 0xff, 0xff, 0xfc, 0, 0, 1, 0, 0xfc, 0xff, 0xff, 0xff, 0xff, 0], name);
    assert.is(runVarint(k, new Uint32Array(0)).length, 0, `${name} empty`);
  }
});

test('varint: random magnitudes and lengths: simd == scalar == reference, nothing written past the end', () => {
  const r = rng(9);
  const boundaries = [0, 1, 250, 251, 252, 65535, 65536, 65537, 0x7fffffff, 0x80000000, 0xffffffff];
  for (const n of [...LENGTHS, 8, 9, 10]) {
    for (const mix of ['mixed', 'small', 'large'] as const) {
      const values = new Uint32Array(n);
      for (let i = 0; i < n; i++) {
        const u = r();
        if (mix === 'small') values[i] = randInt(r, 0, 250);
        else if (mix === 'large') values[i] = randInt(r, 65536, 0xffffffff);
        else if (u < 0.2) values[i] = boundaries[randInt(r, 0, boundaries.length - 1)];
        else if (u < 0.5) values[i] = randInt(r, 0, 250);
        else if (u < 0.7) values[i] = randInt(r, 251, 65535);
        else values[i] = randInt(r, 65536, 0xffffffff);
      }
      const expected = ref.refVarintU32(values);
      for (const [name, k] of BUILDS) assertSame(runVarint(k, values), expected, `${name} ${mix} n=${n}`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// convertFloats

const ALL16 = bytesOfU16(Array.from({ length: 65536 }, (_, i) => i));
const isNaN16 = (dtype: number, b: number) => (dtype === DType.BF16 ? (b & 0x7fff) > 0x7f80 : (b & 0x7fff) > 0x7c00);
const quiet16 = (dtype: number, b: number) => b | (dtype === DType.BF16 ? 0x40 : 0x200);

test('convertFloats: hand-checked values (ties to even, F16 overflow at 65520, subnormals, quiet NaN)', () => {
  // [source dtype, source bits, target dtype, expected bits]
  const cases: Array<[number, number, number, number]> = [
    [DType.F32, 0x3f800000, DType.F16, 0x3c00], // 1
    [DType.F32, 0x477fe000, DType.F16, 0x7bff], // 65504, the largest f16
    [DType.F32, 0x477fefff, DType.F16, 0x7bff], // just below 65520
    [DType.F32, 0x477ff000, DType.F16, 0x7c00], // 65520: the tie goes to the even Inf
    [DType.F32, 0xc77ff000, DType.F16, 0xfc00],
    [DType.F32, 0x7f7fffff, DType.F16, 0x7c00], // f32 max
    [DType.F32, 0x7f800000, DType.F16, 0x7c00],
    [DType.F32, 0x3f801000, DType.F16, 0x3c00], // 1 + 2^-11: tie, to the even 1
    [DType.F32, 0x3f803000, DType.F16, 0x3c02], // 1 + 3 * 2^-11: tie, to the even 1 + 2^-9
    [DType.F32, 0x3f801001, DType.F16, 0x3c01],
    [DType.F32, 0x33800000, DType.F16, 0x0001], // 2^-24, the smallest subnormal
    [DType.F32, 0x33000000, DType.F16, 0x0000], // 2^-25: tie, to the even 0
    [DType.F32, 0x33000001, DType.F16, 0x0001],
    [DType.F32, 0x33c00000, DType.F16, 0x0002], // 3 * 2^-25: tie between 1 and 2 -> 2
    [DType.F32, 0x387fe000, DType.F16, 0x0400], // 2^-14 - 2^-25: tie between 0x3ff and 0x400 -> 0x400
    [DType.F32, 0x80000001, DType.F16, 0x8000], // f32 subnormal -> -0
    [DType.F32, 0x80000000, DType.F16, 0x8000],
    [DType.F32, 0x7fc00000, DType.F16, 0x7e00],
    [DType.F32, 0x7f800001, DType.F16, 0x7e00], // signalling NaN -> quiet
    [DType.F32, 0xffc02000, DType.F16, 0xfe01], // sign and top payload bits kept
    [DType.F32, 0x3f800000, DType.BF16, 0x3f80],
    [DType.F32, 0x3f808000, DType.BF16, 0x3f80], // tie, to even
    [DType.F32, 0x3f818000, DType.BF16, 0x3f82], // tie, to even
    [DType.F32, 0x3f808001, DType.BF16, 0x3f81],
    [DType.F32, 0x7f7fffff, DType.BF16, 0x7f80], // overflow to Inf
    [DType.F32, 0x7f7f7fff, DType.BF16, 0x7f7f],
    [DType.F32, 0x00008000, DType.BF16, 0x0000], // subnormal tie, to even
    [DType.F32, 0x00018000, DType.BF16, 0x0002],
    [DType.F32, 0x7f800001, DType.BF16, 0x7fc0],
    [DType.F32, 0xff812345, DType.BF16, 0xffc1],
    [DType.BF16, 0x3f80, DType.F16, 0x3c00],
    [DType.BF16, 0x4780, DType.F16, 0x7c00], // 65536
    [DType.BF16, 0x477f, DType.F16, 0x7bf8], // 65280
    [DType.BF16, 0x3380, DType.F16, 0x0001], // 2^-24
    [DType.BF16, 0x3300, DType.F16, 0x0000], // 2^-25: tie to 0
    [DType.BF16, 0x7f81, DType.F16, 0x7e08], // quiet, payload kept
    [DType.F16, 0x3c00, DType.BF16, 0x3f80],
    [DType.F16, 0x3c01, DType.BF16, 0x3f80], // 1 + 2^-10 has no bf16: rounds to 1
    [DType.F16, 0x7bff, DType.BF16, 0x4780], // 65504 -> 65536
    [DType.F16, 0x0001, DType.BF16, 0x3380],
    [DType.F16, 0x7c01, DType.BF16, 0x7fc0],
    [DType.F16, 0x3c00, DType.F32, 0x3f800000],
    [DType.BF16, 0x7f81, DType.F32, 0x7f810000], // widening is exact: a signalling NaN stays as it is
    [DType.BF16, 0x7f81, DType.BF16, 0x7f81], // the same dtype is a copy
  ];
  for (const [src, bits, dst, expected] of cases) {
    const bytes = src === DType.F32 ? bytesOfU32([bits]) : bytesOfU16([bits]);
    const label = `${src} 0x${bits.toString(16)} -> ${dst}`;
    assert.is(ref.refConvertFloats(src, bytes, 1, dst)[0], expected, `reference ${label}`);
    for (const [name, k] of BUILDS) assert.is(runConvert(k, src, bytes, 1, dst)[0], expected, `${name} ${label}`);
  }
});

test('convertFloats: all 65536 bf16 and f16 patterns to every dtype == reference; round trips through f32', () => {
  for (const [sname, src] of [['BF16', DType.BF16], ['F16', DType.F16]] as const) {
    for (const [dname, dst] of DTYPES) {
      const expected = ref.refConvertFloats(src, ALL16, 65536, dst);
      for (const [name, k] of BUILDS) assertSame(runConvert(k, src, ALL16, 65536, dst), expected, `${name} ${sname} -> ${dname}`);
    }
    // widening to f32 is exact, and narrowing it back gives the pattern again (NaNs made quiet)
    for (const [name, k] of BUILDS) {
      const wide = runConvert(k, src, ALL16, 65536, DType.F32);
      assertSame(wide, ref.refWiden(src, ALL16, 65536), `${name} ${sname} -> F32 is widen`);
      const back = runConvert(k, DType.F32, bytesOfU32(wide), 65536, src);
      assertSame(back, Array.from({ length: 65536 }, (_, b) => (isNaN16(src, b) ? quiet16(src, b) : b)), `${name} ${sname} round trip`);
    }
  }
});

test('convertFloats: every midpoint between neighbouring bf16 / f16 values, and its f32 neighbours', () => {
  for (const [dname, dst, maxFinite] of [['BF16', DType.BF16, 0x7f7f], ['F16', DType.F16, 0x7bff]] as const) {
    const bits: number[] = [];
    const ties: number[] = [];
    for (let b = 0; b < maxFinite; b++) {
      const lo = ref.f32FromBits(runConvert(scalar, dst, bytesOfU16([b]), 1, DType.F32)[0]);
      const hi = ref.f32FromBits(runConvert(scalar, dst, bytesOfU16([b + 1]), 1, DType.F32)[0]);
      const mid = ref.f32Bits((lo + hi) / 2); // exact: one more significand bit than the format has
      for (const sign of [0, 0x80000000]) {
        bits.push((mid | sign) >>> 0, ((mid - 1) | sign) >>> 0, ((mid + 1) | sign) >>> 0);
        ties.push(((b % 2 === 0 ? b : b + 1) | (sign >>> 16)) >>> 0);
      }
    }
    const expected = ref.refConvertFloats(DType.F32, bytesOfU32(bits), bits.length, dst);
    // the reference itself: each midpoint goes to the even neighbour
    assertSame(expected.filter((_, i) => i % 3 === 0), ties, `reference ${dname} ties`);
    for (const [name, k] of BUILDS) {
      assertSame(runConvert(k, DType.F32, bytesOfU32(bits), bits.length, dst), expected, `${name} F32 -> ${dname}`);
    }
  }
});

test('convertFloats: random f32, wide and mostly-normal, every length, F32 -> BF16 / F16: simd == scalar == reference', () => {
  const r = rng(11);
  // wide: any pattern, or an exponent near the f16 range (subnormal to overflow); normal: mostly
  // 2^-14 <= |x| < 2^16, where whole groups of 8 take the kernels' fast path
  const modes = [['wide', 0.05, 0.45, 100, 145], ['normal', 0.01, 0, 113, 142]] as const;
  for (const n of [...LENGTHS, 8, 9, 65536]) {
    for (const [mode, specialRate, anyRate, eLo, eHi] of modes) {
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) {
        const u = r();
        if (u < specialRate) bits[i] = SPECIAL_F32[randInt(r, 0, SPECIAL_F32.length - 1)];
        else if (u < specialRate + anyRate) bits[i] = Math.floor(r() * 2 ** 32);
        else bits[i] = ((r() < 0.5 ? 0x80000000 : 0) | (randInt(r, eLo, eHi) << 23) | randInt(r, 0, 0x7fffff)) >>> 0;
      }
      const bytes = bytesOfU32(bits);
      for (const [dname, dst] of [['BF16', DType.BF16], ['F16', DType.F16]] as const) {
        const expected = ref.refConvertFloats(DType.F32, bytes, n, dst);
        for (const [name, k] of BUILDS) assertSame(runConvert(k, DType.F32, bytes, n, dst), expected, `${name} ${mode} n=${n} -> ${dname}`);
      }
      for (const [name, k] of BUILDS) assertSame(runConvert(k, DType.F32, bytes, n, DType.F32), Array.from(bits), `${name} ${mode} n=${n} copy`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// pointers and the allocator

test('unaligned pointers give the same results', () => {
  const r = rng(10);
  const n = 1000;
  for (const [dname, dtype] of DTYPES) {
    const bytes = randomInput(dtype, n, r, 'near');
    for (const misalign of [1, 2, 3]) {
      for (const [name, k] of BUILDS) {
        const label = `${name} ${dname} +${misalign}`;
        assertSame(runWiden(k, dtype, bytes, n, misalign), runWiden(k, dtype, bytes, n), `${label} widen`);
        const clean = tame(dtype, bytes);
        assert.is(runAbsSum(k, dtype, clean, n, misalign), runAbsSum(k, dtype, clean, n), `${label} absSum`);
        const q = runQuantize(k, dtype, Rounding.BF16, bytes, n, 1, misalign);
        assertSame(q, runQuantize(k, dtype, Rounding.BF16, bytes, n, 1), `${label} quantize`);
        assertSame(runPackRows(k, q, 8, 125, misalign).words, runPackRows(k, q, 8, 125).words, `${label} packRows`);
        assertSame(runQuantizePackRows(k, dtype, Rounding.F16, bytes, 8, 125, 1, misalign),
          runQuantizePackRows(k, dtype, Rounding.F16, bytes, 8, 125, 1), `${label} quantizePackRows`);
        for (const [, dst] of DTYPES) {
          assertSame(runConvert(k, dtype, bytes, n, dst, misalign), runConvert(k, dtype, bytes, n, dst), `${label} convertFloats to ${dst}`);
        }
      }
    }
  }
  const values = Uint32Array.from({ length: 100 }, (_, i) => i * 40503);
  for (const [name, k] of BUILDS) assertSame(runVarint(k, values, 3), ref.refVarintU32(values), `${name} varint +3`);
});

test('Kernels: alloc aligns, grows memory, gives fresh views, resets; bad requests throw', async () => {
  const k = await instantiateKernels((await compileKernels('scalar')).module);
  const a = k.alloc(10);
  assert.is(a % 64, 0);
  assert.ok(a >= k.heapBase);
  const b = k.alloc(3, 8);
  assert.is(b % 8, 0);
  assert.ok(b >= a + 10);
  const c = k.alloc(1, 1);
  assert.is(c, b + 3);
  const before = k.memory.buffer.byteLength;
  const oldView = k.u8(a, 10);
  const big = k.alloc(before + 100_000, 4096);
  assert.is(big % 4096, 0);
  assert.ok(k.memory.buffer.byteLength >= big + before + 100_000, 'memory grew to fit');
  assert.is(oldView.length, 0, 'views made before the growth are detached');
  k.u8(big, before + 100_000).fill(7); // the whole new block is usable
  assert.is(k.u32(big, 4)[3], 0x07070707);
  k.f32(big, 1)[0] = 1.5;
  assert.is(k.i8(big + 3, 1)[0], 0x3f);
  assert.ok(k.used >= before + 100_000);
  k.reset();
  assert.is(k.used, 0);
  assert.is(k.alloc(1), a, 'reset starts again at the heap base');
  assert.throws(() => k.alloc(-1), (e: unknown) => e instanceof RangeError);
  assert.throws(() => k.alloc(10, 3), (e: unknown) => e instanceof RangeError);
  assert.throws(() => k.alloc(2 ** 32), /4 GiB/);
});


test('countRows: zeros and sum of each row, every length around the 16-lane step, any i8: simd == scalar == literal count', () => {
  const r = rng(77);
  for (const cols of [1, 7, 15, 16, 17, 31, 32, 33, 100, 2560]) {
    for (const rows of [1, 3]) {
      // mostly ternary, with extreme bytes mixed in (the kernel counts whatever it is given)
      const q = Int8Array.from({ length: rows * cols }, () => (r() < 0.1 ? Math.floor(r() * 256) - 128 : Math.floor(r() * 3) - 1));
      const want: number[] = [];
      for (let row = 0; row < rows; row++) {
        const part = Array.from(q.subarray(row * cols, (row + 1) * cols));
        want.push(part.filter((v) => v === 0).length, part.reduce((a, b) => a + b, 0));
      }
      for (const [name, k] of BUILDS) {
        k.reset();
        const src = k.alloc(q.length + 1, 1) + 1; // misaligned on purpose
        k.i8(src, q.length).set(q);
        const dst = k.alloc(8 * rows);
        k.exports.countRows(src, rows, cols, dst);
        assert.equal(Array.from(new Int32Array(k.memory.buffer, dst, 2 * rows)), want, `${name} ${rows}x${cols}`);
      }
    }
  }
});

test('ternaryBf16: sign | (q != 0 ? scale bits : 0), the sign from an F32, BF16 or F16 source (a zero keeps -0.0) or from q; every length around the 8-lane step: simd == scalar == literal', () => {
  const r = rng(91);
  const bits = 0x3c5a; // a BF16 scale
  for (const n of [1, 7, 8, 9, 15, 16, 17, 64, 1000]) {
    const q = Int8Array.from({ length: n }, () => Math.floor(r() * 3) - 1);
    // the source a master weight was ternarized from: its sign agrees with q's where q != 0; zeros rounded from either side, -0.0 among them
    const src = Float32Array.from(q, (v) => (v !== 0 ? v * (0.5 + r()) : r() < 0.5 ? -r() * 0.1 : r() < 0.5 ? -0 : r() * 0.1));
    const neg = Array.from(src, (x) => x < 0 || Object.is(x, -0));
    for (const [dtype, code, bytes] of [
      ['F32', DType.F32, new Uint8Array(src.buffer)],
      ['BF16', DType.BF16, new Uint8Array(Uint16Array.from(new Uint32Array(src.buffer), (u) => u >>> 16).buffer)],
      // F16 bits of the same signs (the magnitude does not matter to the kernel)
      ['F16', DType.F16, new Uint8Array(Uint16Array.from(neg, (x, i) => (x ? 0x8000 : 0) | (i & 0x3ff)).buffer)],
      ['none', DType.F32, undefined],
    ] as const) {
      const want = Array.from(q, (v, i) => ((bytes ? neg[i] : v < 0) ? 0x8000 : 0) | (v !== 0 ? bits : 0));
      for (const [name, k] of BUILDS) {
        k.reset();
        const qp = k.alloc(n + 1, 1) + 1; // misaligned on purpose
        k.i8(qp, n).set(q);
        let sp = 0;
        if (bytes) {
          sp = k.alloc(bytes.length + 2, 2) + 2;
          k.u8(sp, bytes.length).set(bytes);
        }
        const dst = k.alloc(2 * n + 2, 2) + 2;
        k.exports.ternaryBf16(qp, n, bits, code, sp, dst);
        assert.equal(Array.from(new Uint16Array(k.memory.buffer.slice(dst, dst + 2 * n))), want, `${name} ${dtype} n=${n}`);
      }
    }
  }
});

test.run();
