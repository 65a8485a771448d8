// The defaults of the options every format shares, in one place, for the CLI, convert() and the
// browser API alike; a format's own options carry their defaults in its schema (outputs/types.ts FormatOption).

import type { QuantRule, ScaleGranularity } from './quant/rule.js';

export const DEFAULTS = {
  /** The origin document's output, so its command line is unchanged. */
  format: 'bitnet-rs',
  granularity: 'projection' as ScaleGranularity,
  rule: 'offline' as QuantRule,
  kernels: 'auto' as 'auto' | 'simd' | 'scalar',
  /** Input bytes read into wasm memory per step (`--chunk-mib 4`). */
  chunkBytes: 4 << 20,
  /** Holds every projection of the 2B-4T model (the largest, gate/up, is 35 MB in BF16) for both passes. */
  holdBytes: 64 << 20,
  /** A float tensor read in more bytes is written by several jobs of whole rows, so a container's hash follows it (outputs/safetensors-container.ts). */
  pieceBytes: 64 << 20,
} as const;
