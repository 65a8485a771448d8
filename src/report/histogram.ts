// The histogram of one projection's |w| / mean|w| as the absmean rule computes it: each product w * s
// (s = 1 / mean|w|, rounded as the rule rounds it) is rounded in the rule's arithmetic and sent to 0 when
// its magnitude is at most 0.5 (round half to even), else to -1 or +1. Fed chunk by chunk, so a
// projection is never held whole. Platform neutral.

import type { HistogramData } from './types.js';

export class HistogramCounter {
  readonly counts: number[];
  zeros = 0;
  nonzeros = 0;

  /** `round`: the rule's rounding of a product (Math.fround for f32, bf16 or f16 rounding). */
  constructor(
    private readonly inverse: number,
    private readonly round: (x: number) => number,
    readonly binWidth = 0.05,
    readonly max = 3,
  ) {
    this.counts = new Array<number>(Math.round(max / binWidth) + 1).fill(0);
  }

  add(values: ArrayLike<number>): void {
    const last = this.counts.length - 1;
    for (let i = 0; i < values.length; i++) {
      const x = Math.abs(this.round(values[i] * this.inverse));
      if (x <= 0.5) this.zeros++;
      else this.nonzeros++;
      this.counts[Math.min(last, Math.floor(x / this.binWidth))]++;
    }
  }

  result(about: Omit<HistogramData, 'binWidth' | 'max' | 'counts' | 'zeros' | 'nonzeros' | 'cutoff'>): HistogramData {
    return { ...about, binWidth: this.binWidth, max: this.max, counts: [...this.counts], zeros: this.zeros, nonzeros: this.nonzeros, cutoff: 0.5 };
  }
}
