// A weight stream for looking at a checkpoint (inspect's statistics, the report's histogram), not for
// converting it: the default chunking, projection scales, no progress. Platform neutral: the bytes come
// through the caller's TensorSource.

import type { Kernels } from '../kernels/index.js';
import type { QuantRule } from '../quant/rule.js';
import type { TensorSource } from '../stream/ports.js';
import { WeightStream } from '../stream/weights.js';
import { DEFAULTS } from '../defaults.js';
import type { TernaryStats } from './stats.js';

/** `use` with a weight stream over `source` under `rule`; `onStats` makes it count each ternary weight it streams. */
export function withWeightStream<T>(kernels: Kernels, rule: QuantRule, source: TensorSource, use: (stream: WeightStream) => T, onStats?: (name: string, stats: TernaryStats) => void): T {
  const stream = new WeightStream({
    kernels,
    source,
    options: { rule, granularity: 'projection', chunkBytes: DEFAULTS.chunkBytes, holdBytes: DEFAULTS.holdBytes, stats: onStats !== undefined },
    onBytesRead: () => {},
    onTensorDone: () => {},
    onStats,
  });
  return use(stream);
}
