// Statistics of ternary tensors for `inspect`: the share of -1/0/+1, the scales, per-row extremes.
// Platform neutral.

export interface TernaryStats {
  rows: number;
  cols: number;
  /** Fractions of -1, 0 and +1 over the whole tensor. */
  fractions: { minus: number; zero: number; plus: number };
  /** The distinct scales (usually one per projection), at most 8 listed. */
  scales: number[];
  /** Per-row extremes: the smallest and largest fraction of zeros in a row, and of the row scale. */
  rowZeroFraction: { min: number; max: number };
  rowScale: { min: number; max: number };
}

/** Accumulates counts over row chunks, so a tensor never needs to be held whole. */
export class TernaryCounter {
  private counts = [0, 0, 0];
  private zeroMin = Infinity;
  private zeroMax = -Infinity;
  private scaleMin = Infinity;
  private scaleMax = -Infinity;
  private readonly distinct = new Set<number>();

  constructor(
    private readonly rows: number,
    private readonly cols: number,
  ) {}

  /** Adds `n` rows of values (row-major) with their scales. */
  add(q: Int8Array, n: number, rowScales: ArrayLike<number>): void {
    const cols = this.cols;
    // four values a word where aligned: a value's bit 0 says nonzero, its bit 7 says -1
    const words = q.byteOffset % 4 === 0 && cols % 4 === 0 ? new Int32Array(q.buffer, q.byteOffset, (n * cols) >> 2) : undefined;
    for (let r = 0; r < n; r++) {
      // sum and count of zeros on locals: the 2B-4T model has 2.4 G values to count
      let zeros = 0;
      let sum = 0;
      if (words) {
        let nonzero = 0;
        let minus = 0;
        for (let i = (r * cols) >> 2, end = i + (cols >> 2); i < end; i++) {
          const w = words[i];
          nonzero += Math.imul(w & 0x01010101, 0x01010101) >>> 24;
          minus += Math.imul((w >>> 7) & 0x01010101, 0x01010101) >>> 24;
        }
        zeros = cols - nonzero;
        sum = nonzero - 2 * minus;
      } else {
        for (let i = r * cols, end = i + cols; i < end; i++) {
          const v = q[i];
          sum += v;
          zeros += v === 0 ? 1 : 0;
        }
      }
      this.row(zeros, sum, rowScales[r]);
    }
  }

  /** Adds `n` rows given as (zeros, sum) pairs, as the countRows kernel writes them. */
  addCounts(counts: Int32Array, n: number, rowScales: ArrayLike<number>): void {
    for (let r = 0; r < n; r++) this.row(counts[2 * r], counts[2 * r + 1], rowScales[r]);
  }

  private row(zeros: number, sum: number, s: number): void {
    const cols = this.cols;
    // nonzeros = plus + minus and sum = plus - minus
    const plus = (cols - zeros + sum) / 2;
    this.counts[0] += cols - zeros - plus;
    this.counts[1] += zeros;
    this.counts[2] += plus;
    const z = zeros / cols;
    this.zeroMin = Math.min(this.zeroMin, z);
    this.zeroMax = Math.max(this.zeroMax, z);
    this.scaleMin = Math.min(this.scaleMin, s);
    this.scaleMax = Math.max(this.scaleMax, s);
    if (this.distinct.size < 8) this.distinct.add(s);
  }

  result(): TernaryStats {
    const total = this.counts[0] + this.counts[1] + this.counts[2] || 1;
    return {
      rows: this.rows,
      cols: this.cols,
      fractions: { minus: this.counts[0] / total, zero: this.counts[1] / total, plus: this.counts[2] / total },
      scales: [...this.distinct],
      rowZeroFraction: { min: this.zeroMin, max: this.zeroMax },
      rowScale: { min: this.scaleMin, max: this.scaleMax },
    };
  }
}
