// The reference absmean rule (formats.md section 2, microsoft/BitNet quant_weight_int8):
//   m = mean(|W|); s = 1 / max(m, 1e-5); q = clamp(round(W * s), -1, 1); scale = 1 / s
// evaluated the way torch evaluates it in the tensor's own dtype.
// The mean of a BF16 tensor follows torch's non-CPU path (the reference runs on the GPU): the
// sum is accumulated in f32, rounded to bf16, then divided in f32 and rounded again ("cast_fp32
// -> sum -> cast_bf16 -> div -> cast_bf16"). The golden reference has a tensor whose mean only
// comes out right this way. For F16 that path overflows (any sum above 65504 becomes infinity
// and the whole projection zero), so F16 follows torch's CPU path: f32 sum / n, rounded once.
// The per-element part (W * s, rounded, then ternarized) runs in the wasm kernels.

import { roundBf16, roundF16 } from './floats.js';

export type FloatDType = 'F32' | 'BF16' | 'F16';

export type ScaleGranularity = 'projection' | 'row';

export interface TernaryScale {
  /** s: what the kernels multiply each weight by before rounding. */
  inverse: number;
  /** 1 / s rounded in the dtype, as the reference stores it; multiplied at inference. */
  scale: number;
}

const roundIn: Record<FloatDType, (x: number) => number> = {
  F32: Math.fround,
  BF16: roundBf16,
  F16: roundF16,
};

const MIN_MEAN = 1e-5;

/** The reference scale of one projection from the sum of |w| over its `count` elements. */
export function absmeanScale(absSum: number, count: number, dtype: FloatDType): TernaryScale {
  const round = roundIn[dtype];
  const sum = dtype === 'BF16' ? roundBf16(Math.fround(absSum)) : Math.fround(absSum);
  const mean = round(Math.fround(sum / Math.fround(count)));
  const clamped = Math.max(mean, round(MIN_MEAN)); // clamp(min=1e-5), in the dtype

  const inverse = round(Math.fround(1 / clamped));
  const scale = round(Math.fround(1 / inverse));
  return { inverse, scale };
}

/**
 * The seed converter's scheme, kept as `--scale-granularity row`: each output row gets
 * mean|row| (f32, floored at 1e-5) as its scale. It does not match the reference.
 */
export function rowScale(absSum: number, count: number): TernaryScale {
  const scale = Math.fround(Math.max(Math.fround(absSum / count), Math.fround(MIN_MEAN)));
  return { inverse: Math.fround(1 / scale), scale };
}
