// Types shared by the kernel host wrapper. Platform neutral (Node, Deno, browsers).

// The codes live in codes.ts; Rounding is re-exported for src/quant/rule.ts, which imports it from here.
export { Rounding } from './codes.js';

/** Which compiled kernel file: with WebAssembly SIMD, or the fallback without. */
export type KernelFlavor = 'simd' | 'scalar';

/**
 * The kernel exports (assembly/index.ts). Pointers are byte offsets into `memory`, counts are
 * element counts; kernels never allocate (the host owns memory above `heapBase()`).
 */
export interface KernelExports {
  // dtype: a DType code; rounding: a Rounding code (plain numbers, so lookup tables type-check).
  readonly memory: WebAssembly.Memory;
  /** First free byte of linear memory. */
  heapBase(): number;
  /** SHA-256 rounds (FIPS 180-4) over `blocks` 64-byte blocks at data into the 8 u32 at state. */
  sha256Blocks(state: number, data: number, blocks: number): void;
  /** The static scratch: the 8-word state at the pointer, 16384 input bytes from pointer + 64. */
  sha256Scratch(): number;
  /** n elements of `dtype` at src -> n f32 at dst (bit exact; F16 incl. subnormals/Inf/NaN). */
  widen(dtype: number, src: number, n: number, dst: number): void;
  /**
   * Sum of |x| accumulated in f64, in a fixed order: 8 f64 lanes (lane = i % 8, each in index
   * order), then ((l0 + l1) + l2) + ... + l7. Exact (so chunk results add up to the same total
   * in any split) for F16 when the total < 2^29, for BF16 when the total < 2^45 * the smallest
   * nonzero |x| (large bf16 tensors can miss this by a few tiny elements: then within ~1 f64 ulp);
   * for F32 input within ~n * 2^-53 relative. NaN/Inf propagate: check with isFinite.
   */
  absSum(dtype: number, src: number, n: number): number;
  /** Index of the first Inf or NaN among n elements of `dtype` at src (exponent bits all ones), or n when all are finite. */
  firstNonFinite(dtype: number, src: number, n: number): number;
  /** n i8 in {-1,0,1} at dst: q = clamp(round_half_even(round(f32(x*s))), -1, 1), NaN -> 0. */
  quantize(dtype: number, rounding: number, src: number, n: number, s: number, dst: number): void;
  /**
   * rows x cols i8 ternary values -> rows * ceil(cols/16) u32 words (2 bits per value, +1 -> 01,
   * -1 -> 10, each row on a fresh word). Returns how many values were not in {-1,0,1} (packed as 0).
   */
  packRows(src: number, rows: number, cols: number, dst: number): number;
  /** quantize + packRows fused (same output, no intermediate i8 buffer). */
  quantizePackRows(dtype: number, rounding: number, src: number, rows: number, cols: number, s: number, dst: number): void;
  /** n u32 -> bincode 2 standard varints at dst (at most 5n bytes); returns bytes written. */
  varintEncodeU32(src: number, n: number, dst: number): number;
  /**
   * n elements of `srcDtype` at src -> n of `dstDtype` at dst (DType codes). Same dtype: a copy.
   * To F32: exact (as widen). To BF16 / F16: round to nearest even over the target's whole range
   * (F16: overflow to +-Inf from 65520, subnormals); NaN stays NaN, made quiet (sign and top payload
   * bits kept).
   */
  convertFloats(srcDtype: number, src: number, n: number, dstDtype: number, dst: number): void;
  /**
   * GGUF Q8_0 (docs/gguf.md 7): n elements of `dtype` (n % 32 == 0) -> n / 32 blocks of 34 bytes at
   * dst: fp16 d = amax / 127 (computed in f32), then 32 i8 roundf(x * id), id = 1 / d from the f32 d,
   * as ggml's quantize_row_q8_0_ref. Inputs must be finite.
   */
  quantizeQ8_0(dtype: number, src: number, n: number, dst: number): void;

  // Packers (see packings.ts for the layouts and their sources). Input: i8 ternary values; each
  // returns how many inputs were not in {-1, 0, 1}, which are packed as 0. Every call covers whole
  // rows, and consecutive row chunks give consecutive output ranges (offset: bytes(r0, cols)).
  /**
   * Hugging Face U8 [out/4, in] (transformers pack_weights): src holds 4 bands of rows*cols i8,
   * band q (rows q*R + r0 .., R = out/4) at src + q*rows*cols; writes rows*cols bytes,
   * dst[i] = sum over q of (band_q[i] + 1) << 2q (packed rows r0 ..).
   */
  packHfU8(src: number, rows: number, cols: number, dst: number): number;
  /**
   * The inverse for one quarter: rows x cols packed bytes (packed rows r0 ..) -> rows*cols i8,
   * ((byte >> 2*quarter) & 3) - 1 (the rows quarter*R + r0 .. of W). Code 3 is invalid: returns the
   * row-major index in this chunk of the first one (written as 2), or -1 when there is none.
   */
  unpackHfU8(src: number, rows: number, cols: number, quarter: number, dst: number): number;
  /**
   * GGUF I2_S, TQ2_0, Q2_0 (docs/gguf.md 4 and 7): `n` values of whole blocks at src (I2_S without its
   * tail) to i8 at dst; returns 0, or non-zero when some code is 3 (written as 2).
   */
  unpackI2s(src: number, n: number, dst: number): number;
  unpackTq2_0(src: number, n: number, dst: number): number;
  unpackQ2_0(src: number, n: number, dst: number): number;
  /**
   * I2_S straight into hf-u8, no i8 between: four bands of `n` I2_S bytes each (whole blocks; band q the
   * rows q*R + r0 ..) to 4n hf-u8 bytes at dst; returns 0, or non-zero when some code is 3.
   */
  i2sToHfU8(b0: number, b1: number, b2: number, b3: number, n: number, dst: number): number;
  /**
   * microsoft/BitNet GPU int2 (gpu/pack_weight.py): rows % 16 == 0, cols % 32 == 0; rows*cols/4
   * bytes in 16 x 32 tiles, codes q + 2 permuted and interleaved as pack_weight.py does. The Q/K row
   * un-permutation and the scales are the host's.
   */
  packMsInt2(src: number, rows: number, cols: number, dst: number): number;
  /**
   * GGUF TQ2_0: cols % 256 == 0; 66 bytes per 256 values of a row: qs[64] (value 128h + 32n + m at
   * bits 2n of qs[32h + m], code q + 1), then `d` (fp16 bits) in every block.
   */
  packTq2_0(src: number, rows: number, cols: number, d: number, dst: number): number;
  /**
   * GGUF TQ1_0: cols % 256 == 0; 54 bytes per 256 values of a row: qs[48] and qh[4] (base-3 trits
   * q + 1, five to a byte, stored as ceil(v * 256 / 243)), then `d` (fp16 bits) in every block.
   */
  packTq1_0(src: number, rows: number, cols: number, d: number, dst: number): number;
  /**
   * bitnet.cpp I2_S code bytes (x86 layout): cols % 128 == 0; rows*cols/4 bytes, value i at bits
   * 6 - 2*((i%128)/32) of byte 32*(i/128) + i%32, code q + 1. The host appends the 32-byte tail
   * (f32 scale, 28 zero bytes) after the last row.
   */
  packI2s(src: number, rows: number, cols: number, dst: number): number;
  /**
   * GGUF Q2_0: cols % 64 == 0; 18 bytes per 64 values of a row: `d` (fp16 bits) first, then 16 bytes,
   * value j at bits 2*(j%4) of byte j/4 (code q + 1).
   */
  packQ2_0(src: number, rows: number, cols: number, d: number, dst: number): number;
  /** For each of `rows` rows of `cols` i8 ternary values: the count of zeros and the sum, two i32 at dst + 8r. */
  countRows(src: number, rows: number, cols: number, dst: number): void;
  /**
   * n i8 ternary values to BF16 at dst: `sign | (q != 0 ? bits : 0)`, `bits` the scale's BF16; the sign is
   * the top bit of the source value at src (`dtype` F32, BF16 or F16) so a zero keeps the sign it was
   * rounded from, or q's own where src is 0 (docs/formats.md 5, the prefill weights).
   */
  ternaryBf16(q: number, n: number, bits: number, dtype: number, src: number, dst: number): void;
}
