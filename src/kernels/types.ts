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

}
