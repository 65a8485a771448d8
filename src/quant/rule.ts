// The absmean rule (docs/formats.md section 2):
//   m = mean(|W|); s = 1 / max(m, 1e-5); q = clamp(round_half_even(W * s), -1, 1); scale = 1 / s
// in one of two arithmetics:
// - `offline` (the reference, microsoft/BitNet quant_weight_int8 on torch >= 2.1): evaluated in the
//   tensor's own dtype. The mean of a BF16/F16 tensor is torch's "cast_fp32 -> sum -> div ->
//   cast_bf16_or_fp16": |W| summed in f32, divided by f32(n) in f32 and rounded to the dtype ONCE.
//   (torch 1.13 rounded the sum to the dtype first and divided by dtype(n); that is not the reference.)
//   s = dtype(1 / m); each product W * s is rounded to the dtype before ternarization; scale = dtype(1 / s).
// - `online` (transformers' WeightQuant, what transformers runs on the -bf16 checkpoint and what
//   BitNet training applies to f32 master weights): the same formula with W widened to f32 and f32
//   arithmetic throughout, whatever the input dtype.
// The per-element part (W * s, rounded, then ternarized) runs in the wasm kernels.

import { Rounding } from '../kernels/types.js';
import { roundBf16, roundF16 } from './floats.js';

export type FloatDType = 'F32' | 'BF16' | 'F16';

export type ScaleGranularity = 'projection' | 'row';
export const SCALE_GRANULARITIES: readonly ScaleGranularity[] = ['projection', 'row'];

export type QuantRule = 'offline' | 'online';
export const QUANT_RULES: readonly QuantRule[] = ['offline', 'online'];

const RULE_DESCRIPTION: Record<QuantRule, string> = {
  offline: "absmean, offline (microsoft/BitNet quant_weight_int8, torch >= 2.1, in the weights' dtype)",
  online: 'absmean, online (transformers WeightQuant, f32 arithmetic)',
};

/** How master weights are ternarized, in words, for descriptive files (packed input is copied, not ternarized). */
export function describeRule(granularity: ScaleGranularity, rule: QuantRule): string {
  return granularity === 'row' ? 'seed per-row mean|row| in f32 (not the reference)' : RULE_DESCRIPTION[rule];
}

export interface TernaryScale {
  /** s: what the kernels multiply each weight by before rounding. */
  inverse: number;
  /** 1 / s rounded in the arithmetic's dtype; multiplied at inference. */
  scale: number;
  /** How the kernels round each product W * s before ternarizing it (a Rounding code). */
  rounding: number;
}

const ARITHMETIC: Record<FloatDType, { round: (x: number) => number; rounding: number }> = {
  F32: { round: Math.fround, rounding: Rounding.F32 },
  BF16: { round: roundBf16, rounding: Rounding.BF16 },
  F16: { round: roundF16, rounding: Rounding.F16 },
};

const MIN_MEAN = 1e-5;

/** The scale of one projection from the sum of |w| over its `count` elements (the kernels sum exactly in f64). */
export function absmeanScale(absSum: number, count: number, dtype: FloatDType, rule: QuantRule = 'offline'): TernaryScale {
  const { round, rounding } = ARITHMETIC[rule === 'offline' ? dtype : 'F32'];
  const mean = round(Math.fround(Math.fround(absSum) / Math.fround(count)));
  const clamped = Math.max(mean, round(MIN_MEAN)); // clamp(min=1e-5), in the dtype
  const inverse = round(Math.fround(1 / clamped));
  const scale = round(Math.fround(1 / inverse));
  return { inverse, scale, rounding };
}

/**
 * The seed converter's scheme, kept as `--scale-granularity row`: each output row gets
 * mean|row| (f32, floored at 1e-5) as its scale. It does not match the reference.
 */
export function rowScale(absSum: number, count: number): TernaryScale {
  const scale = Math.fround(Math.max(Math.fround(absSum / count), Math.fround(MIN_MEAN)));
  return { inverse: Math.fround(1 / scale), scale, rounding: Rounding.F32 };
}
