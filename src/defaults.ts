// The defaults of every option, in one place, for the CLI, convert() and the browser API alike.

import type { BincodeFlavor } from './formats/bincode.js';
import type { QuantRule, ScaleGranularity } from './quant/rule.js';

export const DEFAULTS = {
  /** The origin document's output, so its command line is unchanged. */
  format: 'bitnet-rs',
  bincode: 'standard' as BincodeFlavor,
  granularity: 'projection' as ScaleGranularity,
  rule: 'offline' as QuantRule,
  ggufType: 'auto' as 'auto' | 'i2_s' | 'tq2_0' | 'tq1_0' | 'f16',
  ggufArch: 'auto' as 'auto' | 'bitnet' | 'bitnet-b1.58',
  kernels: 'auto' as 'auto' | 'simd' | 'scalar',
  /** Input bytes read into wasm memory per step (`--chunk-mib 4`). */
  chunkBytes: 4 << 20,
  /** Holds every projection of the 2B-4T model (the largest, gate/up, is 35 MB in BF16) for both passes. */
  holdBytes: 64 << 20,
} as const;
