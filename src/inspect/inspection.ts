// What `inspect` reports of a model folder (the Inspection), and an input checkpoint's inspection from
// its plan and the ternary statistics of its weights. Platform neutral: the checkpoint comes through
// its port (src/model/checkpoint.ts) and the statistics from the caller (Node counts them on worker
// threads, a conversion with `stats` has them already).

import type { Checkpoint } from '../model/checkpoint.js';
import { planRoles, type TensorRole, type TernaryWeight, type Weight } from '../model/plan.js';
import { planModel } from '../pipeline/conversion.js';
import type { TernaryStats } from './stats.js';

export interface InspectedTensor {
  name: string;
  /** What it holds: from the layout's plan (an input) or the format's reader (an output). */
  role?: TensorRole;
  dtype: string;
  shape: number[];
  bytes?: number;
  ternary?: TernaryStats;
}

export interface Inspection {
  path: string;
  /** 'input' (a checkpoint the converter reads) or 'output' (a folder or file it wrote). */
  kind: 'input' | 'output';
  /** The input layout or the output format. */
  layout?: string;
  /** An input whose projections are stored packed (their codes and scales are copied, not computed). */
  packed?: boolean;
  format?: string;
  config?: Record<string, unknown>;
  tensors: InspectedTensor[];
}

/**
 * An input checkpoint's inspection with the ternary statistics `statsOf` gives for its ternary weights
 * (by tensor name; the tied head, the embedding ternarized, under the embedding's name): inspect computes
 * them, a conversion with `stats` has them already (the report then costs no second pass). `layout`: the
 * input layout by id, as a conversion takes it (default: detected).
 */
export async function checkpointInspection(ck: Checkpoint, statsOf: (weights: TernaryWeight[]) => Promise<Map<string, TernaryStats>>, layout?: string): Promise<Inspection> {
  const plan = planModel(ck, () => {}, layout); // what inspect shows includes what a conversion would warn about
  const roles = new Map<string, { role: TensorRole; weight: Weight }>();
  for (const [role, weight] of planRoles(plan)) if (!roles.has(weight.tensor.name)) roles.set(weight.tensor.name, { role, weight });
  const ternary = [...ck.tensors.keys()].filter((name) => roles.get(name) && roles.get(name)!.weight.kind !== 'float');
  const weights = ternary.map((name) => roles.get(name)!.weight as TernaryWeight);
  if (plan.outputTied) weights.push(plan.output as TernaryWeight); // the tied head: the embedding ternarized with the same rule
  const byName = await statsOf(weights);
  const tensors: InspectedTensor[] = [];
  for (const [name, t] of ck.tensors) {
    const r = roles.get(name);
    // a GGUF's tensors by their ggml type (I2_S, Q2_0, ...), not the bytes' U8
    tensors.push({ name, role: r?.role, dtype: ck.gguf?.types.get(name) ?? t.dtype, shape: t.storedShape, bytes: t.byteLength, ternary: r?.weight.kind === 'float' ? undefined : byName.get(name) });
  }
  const head = plan.outputTied && byName.get(plan.tokenEmbd.tensor.name);
  if (head) {
    const t = plan.tokenEmbd.tensor;
    tensors.push({ name: `${t.name} (tied output head)`, role: 'output', dtype: t.dtype, shape: t.storedShape, ternary: head });
  }
  const packed = plan.blocks.some((b) => b.attn_q.kind === 'packed');
  return { path: ck.dir, kind: 'input', layout: plan.layout, packed, config: ck.config, tensors };
}
