// The input layouts: one file per checkpoint family; the first that matches a checkpoint plans it.

import { InvalidConfigError } from '../errors.js';
import type { ModelPlan } from '../model/plan.js';
import { projectionDtype } from './common.js';
import { hfBitnet } from './hf-bitnet.js';
import { hfBitnetPacked } from './hf-bitnet-packed.js';
import { llamaPacked } from './llama-packed.js';
import { oneBitLlm } from './onebitllm.js';
import type { CheckpointView, InputLayout } from './types.js';

export type { CheckpointView, InputLayout } from './types.js';

export const LAYOUTS = [hfBitnetPacked, hfBitnet, oneBitLlm, llamaPacked] as const satisfies readonly InputLayout[];
/** A layout's id: tables keyed by it (synth's specs) must have a row for every layout. */
export type LayoutId = (typeof LAYOUTS)[number]['id'];
export const LAYOUT_IDS: readonly LayoutId[] = LAYOUTS.map((l) => l.id);

export function detectLayout(c: CheckpointView): InputLayout<LayoutId> {
  const layout = LAYOUTS.find((l) => l.matches(c));
  if (layout) return layout;
  const arch = c.config.architecture || 'no "architectures"';
  const dtype = projectionDtype(c);
  throw new InvalidConfigError(
    { file: c.configPath },
    `a checkpoint of one of the known layouts: ${LAYOUTS.map((l) => `${l.id} (${l.about})`).join('; ')}`,
    `${arch}${dtype ? ` with ${dtype} projections` : ''}${c.config.raw.quantization_config === undefined ? '' : ' and a quantization_config'}`,
  );
}

/** Detects the layout and plans the model. */
export function planCheckpoint(c: CheckpointView): ModelPlan {
  return detectLayout(c).plan(c);
}
