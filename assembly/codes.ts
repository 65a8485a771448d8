// The kernels' numeric codes: the only AssemblyScript copy. The only TypeScript copy is
// src/kernels/codes.ts; test/kernels.test.ts ("codes: ...") pins every code by what the kernels do
// with it, so the two cannot drift apart unnoticed.

/** Element dtype codes (little-endian elements). */
export const F32: u32 = 0;
export const BF16: u32 = 1;
export const F16: u32 = 2;

/** Rounding codes: the product x * s is rounded to this significand before ternarization. */
export const ROUND_NONE: u32 = 0;
export const ROUND_BF16: u32 = 1;
export const ROUND_F16: u32 = 2;
