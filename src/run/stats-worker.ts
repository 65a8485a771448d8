// Ternary statistics of an input checkpoint's weights for `inspect`, on worker threads: each thread
// takes a share of the weights (balanced by bytes), streams them one at a time through the weight
// stream with the rule's kernels, and returns their statistics. threads = 0 runs on the calling thread.

import { instantiateKernels, type Kernels } from '../kernels/index.js';
import { PositionedReader } from '../io/read.js';
import type { TernaryWeight } from '../model/plan.js';
import type { TernaryStats } from '../inspect/stats.js';
import { withWeightStream } from '../inspect/stream.js';
import type { QuantRule } from '../quant/rule.js';
import { answer, inThread } from './thread.js';
import { hubSource, stopHubReaders, type HubReadSpec } from '../io/hub-reader.js';
import type { TensorSource } from '../stream/ports.js';

interface StatsRequest {
  task: 'stats';
  module: WebAssembly.Module;
  rule: QuantRule;
  weights: TernaryWeight[];
  hub?: HubReadSpec;
}

/** Each weight's statistics: its rows taken once through the counting stream, read from the files on disk (or `source`). */
function statsOf(kernels: Kernels, rule: QuantRule, weights: TernaryWeight[], source?: TensorSource): TernaryStats[] {
  const out: TernaryStats[] = [];
  const reader = new PositionedReader();
  try {
    withWeightStream(
      kernels,
      rule,
      source ?? reader,
      (stream) => {
        for (const w of weights) {
          const t = stream.ternary(w);
          for (let r = 0; r < t.rows; r += t.rowsPerChunk) t.i8(r, Math.min(t.rowsPerChunk, t.rows - r), t.i8Buffer);
          t.done();
        }
      },
      (_name, st) => out.push(st),
    );
  } finally {
    reader.close();
  }
  return out;
}

/** The statistics of each weight, in the order given. */
export async function ternaryStatsOf(weights: TernaryWeight[], o: { module: WebAssembly.Module; rule: QuantRule; threads: number; hub?: HubReadSpec }): Promise<TernaryStats[]> {
  if (o.threads === 0 || weights.length < 2) {
    try {
      // on this thread, which cannot also serve its own reads: a reader thread of its own
      return statsOf(await instantiateKernels(o.module), o.rule, weights, o.hub && (await hubSource({ ...o.hub, channels: undefined })));
    } finally {
      if (o.hub) await stopHubReaders(o.hub.key);
    }
  }
  // largest first onto the least loaded thread
  const shares = Array.from({ length: Math.min(o.threads, weights.length) }, () => ({ bytes: 0, items: [] as number[] }));
  const order = weights.map((_, i) => i).sort((a, b) => weights[b].tensor.byteLength - weights[a].tensor.byteLength);
  for (const i of order) {
    const s = shares.reduce((a, b) => (b.bytes < a.bytes ? b : a));
    s.items.push(i);
    s.bytes += weights[i].tensor.byteLength;
  }
  const out: TernaryStats[] = new Array(weights.length);
  await Promise.all(
    shares.map(async (s) => {
      const request: StatsRequest = { task: 'stats', module: o.module, rule: o.rule, weights: s.items.map((i) => weights[i]), ...(o.hub && { hub: o.hub }) };
      const stats = await inThread<TernaryStats[]>(new URL(import.meta.url), request, 'statistics');
      stats.forEach((st, k) => (out[s.items[k]] = st));
    }),
  );
  return out;
}

await answer<StatsRequest, TernaryStats[]>('stats', async (r) => {
  const out = statsOf(await instantiateKernels(r.module), r.rule, r.weights, r.hub && (await hubSource(r.hub)));
  if (r.hub) await stopHubReaders(r.hub.key); // the thread ends once it has answered
  return out;
});
