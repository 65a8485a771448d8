// The jobs of a conversion: one per output file, with the input tensors each one reads (for
// the pool's largest-first order and for progress totals).

import type { TensorInfo } from '../formats/safetensors.js';
import type { ModelPlan } from '../model/layout.js';
import type { PartOptions, PartTask } from './parts.js';

/** One job per output file, in file order (the pool starts the largest first). */
export function planJobs(plan: ModelPlan): PartTask[] {
  const tasks: PartTask[] = [
    { kind: 'embedding', file: 'embedding.bin', tensor: plan.embedding },
    {
      kind: 'lm_head',
      file: 'lm_head.bin',
      linear: { parts: [plan.lmHead.tensor], inFeatures: plan.config.hiddenSize, outFeatures: plan.config.vocabSize },
    },
    { kind: 'norm', file: 'norm.bin', tensor: plan.norm },
  ];
  for (const block of plan.blocks) tasks.push({ kind: 'block', file: `block_${block.index}.bin`, block });
  return tasks;
}

/** The input tensors a task reads: those it ternarizes and those it copies as f32. */
export function tensorsOf(task: PartTask): { ternary: TensorInfo[]; float: TensorInfo[] } {
  switch (task.kind) {
    case 'embedding':
    case 'norm':
      return { ternary: [], float: [task.tensor] };
    case 'lm_head':
      return { ternary: task.linear.parts, float: [] };
    case 'block': {
      const b = task.block;
      return {
        ternary: [...b.wqkv.parts, ...b.oProj.parts, ...b.w13.parts, ...b.w2.parts],
        float: [b.attentionNorm, b.ffnNorm, b.attnSubNorm, b.ffnSubNorm],
      };
    }
  }
}

/** Input bytes a task reads: per-projection scales read a projection too large to hold twice. */
export function bytesToRead(task: PartTask, options: PartOptions): number {
  const passes = (t: TensorInfo) => (options.granularity === 'projection' && t.byteLength > options.holdBytes ? 2 : 1);
  const { ternary, float } = tensorsOf(task);
  return ternary.reduce((sum, t) => sum + t.byteLength * passes(t), 0) + float.reduce((sum, t) => sum + t.byteLength, 0);
}
